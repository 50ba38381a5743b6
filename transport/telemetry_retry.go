package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/resilient-http/resilient/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// retryDecision is what the retry loop decided after attempt Attempt.
type retryDecision struct {
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

// retried reports a decision of the retry loop: as an event on the span of
// the attempt it judged (if that span is still open), in the retry or
// denied counter, and in the log at Debug.
func (tm *telemetry) retried(ctx context.Context, span trace.Span, req *http.Request, d retryDecision) {
	decision, denied := "retry", ""
	if d.Stop != nil {
		decision, denied = "stop", deniedBy(d.Stop)
	}
	if span != nil && span.IsRecording() {
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
		span.AddEvent("resilient.retry_decision", trace.WithAttributes(attrs...))
	}
	addr, port := serverAttrs(req)
	if d.Stop == nil {
		if tm.retries.Enabled(ctx) {
			tm.retries.Add(ctx, 1, metric.WithAttributes(attrRetryReason.String(d.Reason), addr, port))
		}
	} else if tm.denied.Enabled(ctx) {
		tm.denied.Add(ctx, 1, metric.WithAttributes(attrDeniedBy.String(denied), attrRetryReason.String(d.Reason), addr, port))
	}
	if tm.logging(ctx, slog.LevelDebug) {
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
