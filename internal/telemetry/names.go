package telemetry

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Metric names. The attempt duration has the unit, buckets and attributes
// of the HTTP semantic conventions' http.client.request.duration, under a
// name of its own: it is recorded per attempt, and otelhttp records that
// name per request (see the package doc).
const (
	MetricAttemptDuration = "resilient.client.attempt.duration"
	MetricFailures        = "resilient.client.attempt.failures"
	MetricRetries         = "resilient.client.retries"
	MetricDenied          = "resilient.client.retries.denied"
	MetricCloses          = "resilient.client.connection.closes"
	MetricIdleLimit       = "resilient.client.idle_limit"
)

// Attribute keys of this library, on spans and metrics.
const (
	attrStage        = attribute.Key("resilient.attempt.stage")
	attrKind         = attribute.Key("resilient.attempt.kind")
	attrBytesWritten = attribute.Key("resilient.attempt.bytes_written")
	attrBytesRead    = attribute.Key("resilient.attempt.bytes_read")
	attrUnprocessed  = attribute.Key("resilient.attempt.unprocessed")
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
// http.client.request.duration, which the attempt duration follows.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

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
func errorType(resp *http.Response, kind string) string {
	switch {
	case kind != "":
		return kind
	case resp == nil:
		return "_OTHER"
	case resp.StatusCode >= 400:
		return strconv.Itoa(resp.StatusCode)
	}
	return ""
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
