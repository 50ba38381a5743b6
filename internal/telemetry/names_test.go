package telemetry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/resilient-http/resilient/retry"
)

// TestDeniedBy checks the resilient.retry.denied_by value of every stop
// sentinel, wrapped as the retry loop may wrap it.
func TestDeniedBy(t *testing.T) {
	tests := []struct {
		stop error
		want string
	}{
		{stop: retry.ErrPolicy, want: "policy"},
		{stop: retry.ErrBudgetExhausted, want: "budget"},
		{stop: retry.ErrBodyNotReplayable, want: "body"},
		{stop: retry.ErrMaxAttempts, want: "max_attempts"},
		{stop: retry.ErrContextDone, want: "context"},
		{stop: retry.ErrDeadlineTooNear, want: "deadline"},
		{stop: fmt.Errorf("stopped: %w", retry.ErrBudgetExhausted), want: "budget"},
	}
	for _, tt := range tests {
		if got := deniedBy(tt.stop); got != tt.want {
			t.Errorf("deniedBy(%v) = %q, want %q", tt.stop, got, tt.want)
		}
	}
}

// TestErrorType checks error.type: a failure's kind, an error status as
// its code, nothing for success.
func TestErrorType(t *testing.T) {
	tests := []struct {
		name string
		resp *http.Response
		kind string
		want string
	}{
		{name: "failure", kind: "reset", want: "reset"},
		{name: "failure without kind", want: "_OTHER"},
		{name: "error status", resp: &http.Response{StatusCode: 503}, want: "503"},
		{name: "success", resp: &http.Response{StatusCode: 200}, want: ""},
	}
	for _, tt := range tests {
		if got := errorType(tt.resp, tt.kind); got != tt.want {
			t.Errorf("%s: errorType = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestMetricNames checks that no instrument of ours takes a name of the
// HTTP semantic conventions, which otelhttp records per request.
func TestMetricNames(t *testing.T) {
	for _, name := range []string{MetricAttemptDuration, MetricFailures, MetricRetries, MetricDenied, MetricCloses, MetricIdleLimit} {
		if !strings.HasPrefix(name, "resilient.") {
			t.Errorf("metric %q is not in the resilient. namespace", name)
		}
	}
}
