package transport_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestPerRequestIdempotencyKey: retry.WithIdempotencyKey beside
// retry.WithHook, under a client policy without IdempotencyKey, attaches
// one key that the server sees on every attempt; without it, or without a
// hook, no key is sent; the policy's setting works alone. The server
// resets the first attempt after reading it, as a hostile one may.
func TestPerRequestIdempotencyKey(t *testing.T) {
	allow := func(retry.Attempt) bool { return true }
	tests := []struct {
		name    string
		policy  retry.Policy
		ctx     func(context.Context) context.Context
		wantKey bool
		wantOK  bool
	}{
		{"hook and key per request", retry.Policy{}, func(ctx context.Context) context.Context {
			return retry.WithIdempotencyKey(retry.WithHook(ctx, allow))
		}, true, true},
		{"hook per request, no key asked", retry.Policy{}, func(ctx context.Context) context.Context {
			return retry.WithHook(ctx, allow)
		}, false, true},
		{"key per request, no hook", retry.Policy{}, retry.WithIdempotencyKey, false, false},
		{"key per request, hook in the policy", retry.Policy{Hook: allow}, retry.WithIdempotencyKey, true, true},
		{"both in the policy", retry.Policy{Hook: allow, IdempotencyKey: true}, func(ctx context.Context) context.Context { return ctx }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var keys [][]string // per attempt, as the server read them
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				mu.Lock()
				keys = append(keys, req.Header.Values("Idempotency-Key"))
				first := len(keys) == 1
				mu.Unlock()
				if first {
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
					return
				}
				_, _ = io.WriteString(c, okResponse)
			})
			tr := newTransport(t, transport.WithRetry(fastPolicy(tt.policy)))
			req, _ := http.NewRequestWithContext(tt.ctx(context.Background()), http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("x")))
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if (err == nil) != tt.wantOK {
				t.Fatalf("got %v, want success %v", err, tt.wantOK)
			}
			if len(req.Header) != 0 {
				t.Errorf("the caller's request was changed: %v", req.Header)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("keys per attempt: %q", keys)
			for i, k := range keys {
				switch {
				case !tt.wantKey && len(k) != 0:
					t.Errorf("attempt %d carried key %q, want none", i+1, k)
				case tt.wantKey && (len(k) != 1 || k[0] == "" || k[0] != keys[0][0]):
					t.Errorf("attempt %d carried %q, want the first attempt's one key", i+1, k)
				}
			}
		})
	}
}
