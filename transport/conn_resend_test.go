package transport_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestBaseResendSeen: when net/http resends a GET within one attempt,
// because the reused connection it got first failed, the attempt's span
// says so, with the first connection's idle time, and the idle tracker
// learns from the stale reuse.
func TestBaseResendSeen(t *testing.T) {
	b := testserver.GoBackend(t, time.Minute)
	u := *b.URL
	u.RawQuery = "reset=before" // the second request of a connection is reset before it runs
	spans := tracetest.NewSpanRecorder()
	rt := newTransport(t, transport.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))

	for i := range 2 {
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		req.Header.Set("X-Request-Id", "get")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if runs := b.Runs(t, "get"); runs != 2 {
		t.Fatalf("the GETs ran %d times, want 2", runs)
	}
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d attempt spans, want 2: one per request, the resend inside the second", len(ended))
	}
	var resend map[string]any
	for _, e := range ended[1].Events() {
		if e.Name == "resilient.base_resend" {
			resend = map[string]any{}
			for _, kv := range e.Attributes {
				resend[string(kv.Key)] = kv.Value.AsInterface()
			}
		}
	}
	if resend == nil {
		t.Fatal("the second attempt's span has no resilient.base_resend event")
	}
	if idleFor, _ := resend["resilient.connection.idle_time"].(float64); resend["resilient.connection.reused"] != true || idleFor <= 0 {
		t.Errorf("resend event %v, want the first connection reused after some idle time", resend)
	}
	for _, e := range ended[0].Events() {
		if e.Name == "resilient.base_resend" {
			t.Error("the first request's span has a resend event")
		}
	}
	if l := rt.IdleLimit(b.URL); l.Source != idle.SourceObserved {
		t.Errorf("limit %+v, want one observed from the stale reuse", l)
	}
}
