package transport

import (
	"context"
	"log/slog"

	"github.com/resilient-http/resilient/idle"
	"go.opentelemetry.io/otel/metric"
)

// connClosed counts a pooled connection closed while idle, by our idle
// limit or by the server.
func (tm *telemetry) connClosed(key string, byLimit bool) {
	ctx := context.Background()
	if !tm.closes.Enabled(ctx) {
		return
	}
	by := "server"
	if byLimit {
		by = "idle_limit"
	}
	tm.closes.Add(ctx, 1, metric.WithAttributes(attrBackend.String(key), attrClosedBy.String(by)))
}

// learnsLimits reports whether limitLearned wants to hear of changes, so
// that callers look the limit up before and after only then.
func (tm *telemetry) learnsLimits() bool {
	return tm.logging(context.Background(), slog.LevelInfo)
}

// limitLearned logs a change of a backend's effective idle limit at Info.
func (tm *telemetry) limitLearned(key string, before, after idle.Limit) {
	if before == after {
		return
	}
	tm.log.LogAttrs(context.Background(), slog.LevelInfo, "resilient: idle limit changed",
		slog.String("backend", key),
		slog.Duration("limit", after.Timeout),
		slog.String("source", after.Source.String()),
		slog.Duration("previous", before.Timeout),
		slog.String("previous_source", before.Source.String()),
		slog.Int("max_requests", after.MaxRequests))
}
