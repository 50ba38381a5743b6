package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/resilient-http/resilient/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Attempt is the telemetry of one attempt: its client span, when tracing,
// and its start, when anything records its duration. The transport keeps
// it inside its own state of the attempt, so it allocates nothing itself.
type Attempt struct {
	tm    *Telemetry
	req   *http.Request   // the attempt's request, before its context carries the hooks
	ctx   context.Context // req's context, with the span when there is one
	span  trace.Span      // nil when tracing is off
	start time.Time       // zero unless the span or the duration metric needs it
}

// Start starts the telemetry of attempt n (from 1) of req: a client span,
// a child of the span in req's context, when tracing is on, and the clock,
// when the span or the duration metric will record.
func (tm *Telemetry) Start(req *http.Request, n int) Attempt {
	a := Attempt{tm: tm, req: req, ctx: req.Context()}
	if tm.tracingOn() {
		m := method(req)
		addr, port := serverAttrs(req)
		attrs := make([]attribute.KeyValue, 0, 6)
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m), semconv.URLFull(fullURL(req)), addr, port)
		if n > 1 {
			attrs = append(attrs, semconv.HTTPRequestResendCount(n-1))
		}
		name := m
		if m == "_OTHER" {
			name = "HTTP"
		}
		a.ctx, a.span = tm.tracer.Start(a.ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	}
	if a.span != nil || tm.duration.Enabled(a.ctx) {
		a.start = time.Now()
	}
	return a
}

// Context is the attempt's context: the request's, with the attempt's
// span when there is one.
func (a *Attempt) Context() context.Context { return a.ctx }

// Tracing reports whether the attempt has a span, which only the end of
// the response body may end.
func (a *Attempt) Tracing() bool { return a.span != nil }

// Inject writes the attempt's trace context into r's headers. r is the
// attempt's shallow copy of the caller's request, so the headers are
// cloned first: the caller's request is never modified.
func (a *Attempt) Inject(r *http.Request) {
	if a.span == nil || !a.span.SpanContext().IsValid() {
		return
	}
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	a.tm.prop.Inject(a.ctx, propagation.HeaderCarrier(h))
	r.Header = h
}

// GotConn records on the span the idle limit of the backend key that the
// attempt's connection leads to, the limit it was kept under, before the
// attempt teaches a new one.
func (a *Attempt) GotConn(key string) {
	if a.span == nil || !a.span.IsRecording() {
		return
	}
	if lim := a.tm.limits.Limit(key); lim.Timeout > 0 {
		a.span.SetAttributes(attrIdleLimit.Float64(lim.Timeout.Seconds()), attrIdleSource.String(lim.Source.String()))
	}
}

// BaseResent records on the span that the base transport sent the request
// again on another connection within the attempt, and whether the
// connection it left had been reused, and after how long idle.
func (a *Attempt) BaseResent(reused bool, idleFor time.Duration) {
	if a.span == nil || !a.span.IsRecording() {
		return
	}
	a.span.AddEvent("resilient.base_resend", trace.WithAttributes(attrReused.Bool(reused), attrIdleTime.Float64(idleFor.Seconds())))
}

// Conn is what an attempt knows of its connection when the base transport
// returns.
type Conn struct {
	Got     bool          // the base transport handed the attempt a connection
	Reused  bool          // it had carried an earlier request
	IdleFor time.Duration // how long it had been idle in the pool
	HTTP2   bool          // it speaks HTTP/2
}

// Returned records the attempt as the base transport returned it, with
// resp, or failed with a failure of kind (see Failure): its duration, and
// on the span what only the attempt knows by now, the connection and the
// response status. A failure's details are recorded by Failed.
func (a *Attempt) Returned(c Conn, resp *http.Response, kind string) {
	if a.start.IsZero() {
		return
	}
	a.recordDuration(resp, kind)
	if a.span == nil || !a.span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	if c.Got {
		attrs = append(attrs, attrReused.Bool(c.Reused), attrIdleTime.Float64(c.IdleFor.Seconds()))
	}
	if c.HTTP2 {
		attrs = append(attrs, semconv.NetworkProtocolVersion("2"))
	}
	if resp != nil {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode >= 400 {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(resp, "")))
			a.span.SetStatus(codes.Error, resp.Status)
		}
	}
	a.span.SetAttributes(attrs...)
}

// recordDuration records the attempt's duration until now.
func (a *Attempt) recordDuration(resp *http.Response, kind string) {
	ctx, req := a.ctx, a.req
	if !a.tm.duration.Enabled(ctx) {
		return
	}
	addr, port := serverAttrs(req)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method(req)), addr, port, semconv.URLScheme(req.URL.Scheme))
	if resp != nil {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	if et := errorType(resp, kind); et != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(et))
	}
	a.tm.duration.Record(ctx, time.Since(a.start).Seconds(), metric.WithAttributes(attrs...))
}

// Failure is a classified failure of an attempt.
type Failure struct {
	Stage        string // how far the attempt got, snake_case
	Kind         string // why it failed, snake_case; the span's error.type
	BytesWritten int64
	BytesRead    int64
	// Unprocessed says whether the attempt provably never reached the
	// server's application, so that a server-side ledger can check the
	// claim attempt by attempt.
	Unprocessed bool
	Err         error // the error the caller gets, recorded as the span's exception
}

// Failed records a classified failure, before the response or of its
// body, on the span and in the failures counter.
func (a *Attempt) Failed(f Failure) {
	ctx := a.req.Context()
	if a.tm.failures.Enabled(ctx) {
		addr, port := serverAttrs(a.req)
		a.tm.failures.Add(ctx, 1, metric.WithAttributes(attrStage.String(f.Stage), attrKind.String(f.Kind), addr, port))
	}
	if a.span == nil || !a.span.IsRecording() {
		return
	}
	a.span.SetAttributes(
		semconv.ErrorTypeKey.String(f.Kind),
		attrStage.String(f.Stage),
		attrKind.String(f.Kind),
		attrBytesWritten.Int64(f.BytesWritten),
		attrBytesRead.Int64(f.BytesRead),
		attrUnprocessed.Bool(f.Unprocessed),
	)
	a.span.RecordError(f.Err)
	a.span.SetStatus(codes.Error, f.Err.Error())
}

// Decision is what the retry loop decided after attempt Attempt.
type Decision struct {
	Attempt      int
	Reason       string        // the policy's or the loop's snake_case reason
	Delay        time.Duration // wait before the next attempt
	Stop         error         // nil when retrying; a retry.Err* sentinel when not
	BudgetTokens float64       // the backend's retry budget after the decision
}

// deniedBy names what stopped the retry loop.
func deniedBy(stop error) string {
	switch {
	case errors.Is(stop, retry.ErrBudgetExhausted):
		return "budget"
	case errors.Is(stop, retry.ErrBodyNotReplayable):
		return "body"
	case errors.Is(stop, retry.ErrMaxAttempts):
		return "max_attempts"
	case errors.Is(stop, retry.ErrContextDone):
		return "context"
	case errors.Is(stop, retry.ErrDeadlineTooNear):
		return "deadline"
	}
	return "policy"
}

// Retried reports a decision of the retry loop on the attempt it judged:
// as an event on its span (if that span is still open), in the retry or
// denied counter, and in the log at Debug.
func (a *Attempt) Retried(d Decision) {
	tm, req, ctx := a.tm, a.req, a.req.Context()
	decision, denied := "retry", ""
	if d.Stop != nil {
		decision, denied = "stop", deniedBy(d.Stop)
	}
	if a.span != nil && a.span.IsRecording() {
		attrs := []attribute.KeyValue{
			attrRetry.String(decision),
			attrRetryReason.String(d.Reason),
			attrBudgetTokens.Float64(d.BudgetTokens),
		}
		if d.Stop == nil {
			attrs = append(attrs, attrRetryDelay.Float64(d.Delay.Seconds()))
		} else {
			attrs = append(attrs, attrDeniedBy.String(denied))
		}
		a.span.AddEvent("resilient.retry_decision", trace.WithAttributes(attrs...))
	}
	addr, port := serverAttrs(req)
	if d.Stop == nil {
		if tm.retries.Enabled(ctx) {
			tm.retries.Add(ctx, 1, metric.WithAttributes(attrRetryReason.String(d.Reason), addr, port))
		}
	} else if tm.denied.Enabled(ctx) {
		tm.denied.Add(ctx, 1, metric.WithAttributes(attrDeniedBy.String(denied), attrRetryReason.String(d.Reason), addr, port))
	}
	if tm.log.Enabled(ctx, slog.LevelDebug) {
		tm.log.LogAttrs(ctx, slog.LevelDebug, "resilient: retry decision",
			slog.String("method", req.Method),
			slog.String("url", req.URL.Redacted()),
			slog.Int("attempt", d.Attempt),
			slog.String("decision", decision),
			slog.String("reason", d.Reason),
			slog.Duration("delay", d.Delay),
			slog.String("denied_by", denied),
			slog.Float64("budget_tokens", d.BudgetTokens))
	}
}

// End ends the attempt's span: with the response body, or, for a failed
// attempt, once the retry decision is recorded on it.
func (a *Attempt) End() {
	if a.span != nil {
		a.span.End()
	}
}
