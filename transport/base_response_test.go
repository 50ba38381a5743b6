package transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestResponseRequestIsTheCallers: the response's Request is the caller's
// request, as net/http returns it, on every path out of RoundTrip; never
// an attempt's copy, whose context carries our httptrace hooks.
func TestResponseRequestIsTheCallers(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   bool // a body without GetBody: buffered for replay
		fail   int  // answer 503 to the first fail requests
		opts   []transport.Option
		status int   // what the caller gets
		calls  int32 // how many attempts reached the server
	}{
		{name: "without retry", method: http.MethodGet, opts: []transport.Option{transport.WithoutRetry()}, status: 200, calls: 1},
		{name: "first attempt succeeds", method: http.MethodGet, status: 200, calls: 1},
		{name: "first attempt of a buffered body succeeds", method: http.MethodPost, body: true, status: 200, calls: 1},
		{name: "retried success", method: http.MethodGet, fail: 1, status: 200, calls: 2},
		{name: "first attempt with an idempotency key", method: http.MethodPost, body: true, status: 200, calls: 1,
			opts: []transport.Option{transport.WithRetry(fastPolicy(retry.Policy{
				Hook: func(retry.Attempt) bool { return true }, IdempotencyKey: true,
			}))}},
		{name: "response returned when retries stop", method: http.MethodGet, fail: 99, status: 503, calls: 2,
			opts: []transport.Option{transport.WithRetry(fastPolicy(retry.Policy{MaxAttempts: 2}))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if int(calls.Add(1)) <= tt.fail {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			t.Cleanup(srv.Close)
			opts := tt.opts
			if opts == nil {
				opts = []transport.Option{transport.WithRetry(fastPolicy(retry.Policy{}))}
			}
			rt := newTransport(t, opts...)

			ctx := context.Background()
			var body io.Reader
			if tt.body {
				body = io.NopCloser(strings.NewReader("payload"))
			}
			req, err := http.NewRequestWithContext(ctx, tt.method, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || calls.Load() != tt.calls {
				t.Fatalf("status %d after %d attempts, want %d after %d", resp.StatusCode, calls.Load(), tt.status, tt.calls)
			}
			if resp.Request != req {
				t.Errorf("resp.Request is %p, want the caller's request %p", resp.Request, req)
			}
			if resp.Request.Context() != ctx {
				t.Error("resp.Request's context is not the caller's")
			}
			if tr := httptrace.ContextClientTrace(resp.Request.Context()); tr != nil {
				t.Error("a request built on resp.Request.Context() would run our httptrace hooks")
			}
		})
	}
}
