package transport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/resilient-http/resilient/idle"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Metric names. The attempt duration follows the HTTP semantic
// conventions, recorded per attempt rather than per request; the others are
// this library's.
const (
	metricDuration  = "http.client.request.duration"
	metricFailures  = "resilient.client.attempt.failures"
	metricRetries   = "resilient.client.retries"
	metricDenied    = "resilient.client.retries.denied"
	metricCloses    = "resilient.client.connection.closes"
	metricIdleLimit = "resilient.client.idle_limit"
)

// Attribute keys of this library, on spans and metrics.
const (
	attrStage        = attribute.Key("resilient.attempt.stage")
	attrKind         = attribute.Key("resilient.attempt.kind")
	attrBytesWritten = attribute.Key("resilient.attempt.bytes_written")
	attrBytesRead    = attribute.Key("resilient.attempt.bytes_read")
	attrReused       = attribute.Key("resilient.connection.reused")
	attrIdleTime     = attribute.Key("resilient.connection.idle_time")
	attrClosedBy     = attribute.Key("resilient.connection.closed_by")
	attrBackend      = attribute.Key("resilient.backend")
	attrIdleLimit    = attribute.Key("resilient.idle_limit")
	attrIdleSource   = attribute.Key("resilient.idle_limit.source")
	attrRetry        = attribute.Key("resilient.retry")
	attrRetryReason  = attribute.Key("resilient.retry.reason")
	attrRetryDelay   = attribute.Key("resilient.retry.delay")
	attrDeniedBy     = attribute.Key("resilient.retry.denied_by")
	attrBudgetTokens = attribute.Key("resilient.retry.budget_tokens")
)

// durationBuckets are the semantic conventions' advice for
// http.client.request.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// instruments creates the instruments once; an error leaves a usable no-op
// instrument in place, so it is reported and not fatal.
func (tm *telemetry) instruments(m metric.Meter, tracker *idle.Tracker) error {
	var errs [6]error
	tm.duration, errs[0] = m.Float64Histogram(metricDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of each HTTP client attempt, until its response headers or its failure."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	tm.failures, errs[1] = m.Int64Counter(metricFailures,
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Failed attempts, by how far they got (stage) and the kind of failure."))
	tm.retries, errs[2] = m.Int64Counter(metricRetries,
		metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts repeated after a failure or a retryable status, by reason."))
	tm.denied, errs[3] = m.Int64Counter(metricDenied,
		metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts not repeated, by what denied it: policy, budget, body, max_attempts or context."))
	tm.closes, errs[4] = m.Int64Counter(metricCloses,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Pooled connections closed while idle: by our idle limit (before the backend) or by the server."))
	_, errs[5] = m.Float64ObservableGauge(metricIdleLimit,
		metric.WithUnit("s"),
		metric.WithDescription("Effective idle limit of each backend's pooled connections, by source."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			tracker.Range(func(key string, l idle.Limit) {
				if l.Timeout > 0 {
					o.Observe(l.Timeout.Seconds(), metric.WithAttributes(attrBackend.String(key), attrIdleSource.String(l.Source.String())))
				}
			})
			return nil
		}))
	return errors.Join(errs[:]...)
}

// serverAttrs are the semantic conventions' server.address and server.port
// of a request.
func serverAttrs(req *http.Request) (attribute.KeyValue, attribute.KeyValue) {
	u := req.URL
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		switch u.Scheme {
		case "https":
			port = 443
		case "http":
			port = 80
		}
	}
	return semconv.ServerAddress(u.Hostname()), semconv.ServerPort(port)
}

// method is the semantic conventions' http.request.method: known methods
// as they are, others as _OTHER so that the attribute stays bounded.
func method(req *http.Request) string {
	switch m := req.Method; m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// errorType is the semantic conventions' error.type of an attempt: the
// failure's kind, or the status code of an error response; empty for
// success.
func errorType(resp *http.Response, err error) string {
	if err != nil {
		var e *AttemptError
		if errors.As(err, &e) {
			return e.Kind.String()
		}
		return "_OTHER"
	}
	if resp.StatusCode >= 400 {
		return strconv.Itoa(resp.StatusCode)
	}
	return ""
}

// recordDuration records the attempt that started at start.
func (tm *telemetry) recordDuration(ctx context.Context, start time.Time, req *http.Request, resp *http.Response, err error) {
	if !tm.duration.Enabled(ctx) {
		return
	}
	addr, port := serverAttrs(req)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method(req)), addr, port, semconv.URLScheme(req.URL.Scheme))
	if resp != nil {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	if et := errorType(resp, err); et != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(et))
	}
	tm.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}

// countFailure counts a failed attempt by stage and kind.
func (tm *telemetry) countFailure(ctx context.Context, req *http.Request, e *AttemptError) {
	if !tm.failures.Enabled(ctx) {
		return
	}
	addr, port := serverAttrs(req)
	tm.failures.Add(ctx, 1, metric.WithAttributes(attrStage.String(e.Stage.String()), attrKind.String(e.Kind.String()), addr, port))
}
