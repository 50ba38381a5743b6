package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// startAttempt starts the client span of attempt n (from 1) of req, a
// child of the span in req's context. It returns a nil span, and req's
// context, when tracing is off.
func (tm *telemetry) startAttempt(req *http.Request, n int) (context.Context, trace.Span) {
	ctx := req.Context()
	if !tm.tracingOn() {
		return ctx, nil
	}
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
	return tm.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// gotConn records on the span the idle limit of the backend key that the
// attempt's connection leads to, the limit it was kept under, before the
// attempt teaches a new one.
func (tm *telemetry) gotConn(span trace.Span, key string) {
	if span == nil || !span.IsRecording() {
		return
	}
	if lim := tm.tracker.Limit(key); lim.Timeout > 0 {
		span.SetAttributes(attrIdleLimit.Float64(lim.Timeout.Seconds()), attrIdleSource.String(lim.Source.String()))
	}
}

// baseResent records on the span that the base transport sent the request
// again on another connection within the attempt, and whether the
// connection it left had been reused, and after how long idle.
func (tm *telemetry) baseResent(span trace.Span, reused bool, idleFor time.Duration) {
	if span == nil || !span.IsRecording() {
		return
	}
	span.AddEvent("resilient.base_resend", trace.WithAttributes(attrReused.Bool(reused), attrIdleTime.Float64(idleFor.Seconds())))
}

// fullURL is url.full without credentials, which must never be recorded.
func fullURL(req *http.Request) string {
	if req.URL.User == nil {
		return req.URL.String()
	}
	u := *req.URL
	u.User = nil
	return u.String()
}

// inject writes the attempt's trace context into r's headers. r is the
// attempt's shallow copy of the caller's request, so the headers are
// cloned first: the caller's request is never modified.
func (tm *telemetry) inject(ctx context.Context, span trace.Span, r *http.Request) {
	if span == nil || !span.SpanContext().IsValid() {
		return
	}
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	tm.prop.Inject(ctx, propagation.HeaderCarrier(h))
	r.Header = h
}

// attemptDone records on the span what only the attempt knows once the
// base transport returned: the connection and the response status. A
// failure's details are recorded by failed.
func (tm *telemetry) attemptDone(span trace.Span, p attempt.Progress, resp *http.Response) {
	if span == nil || !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	if p.GotConn {
		attrs = append(attrs, attrReused.Bool(p.Reused), attrIdleTime.Float64(p.IdleFor.Seconds()))
	}
	if p.HTTP2 {
		attrs = append(attrs, semconv.NetworkProtocolVersion("2"))
	}
	if resp != nil {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode >= 400 {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(resp, nil)))
			span.SetStatus(codes.Error, resp.Status)
		}
	}
	span.SetAttributes(attrs...)
}

// attrUnprocessed says whether a failed attempt provably never reached the
// server's application (AttemptError.Unprocessed), so that a server-side
// ledger can check the claim attempt by attempt.
const attrUnprocessed = attribute.Key("resilient.attempt.unprocessed")

// failed records a classified failure on the span and in the failures
// counter.
func (tm *telemetry) failed(ctx context.Context, span trace.Span, req *http.Request, e *AttemptError) {
	tm.countFailure(ctx, req, e)
	if span == nil || !span.IsRecording() {
		return
	}
	span.SetAttributes(
		semconv.ErrorTypeKey.String(e.Kind.String()),
		attrStage.String(e.Stage.String()),
		attrKind.String(e.Kind.String()),
		attrBytesWritten.Int64(e.BytesWritten),
		attrBytesRead.Int64(e.BytesRead),
		attrUnprocessed.Bool(e.Unprocessed()),
	)
	span.RecordError(e)
	span.SetStatus(codes.Error, e.Error())
}

// endFailed ends the span of an attempt that failed before its response,
// once the retry loop has recorded its decision on it. Spans of responses
// end with their bodies.
func endFailed(span trace.Span, err error) {
	if span != nil && err != nil {
		span.End()
	}
}
