package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// stallServer answers its first request 503 with a Content-Length of 100,
// writes 10 bytes of that body and stalls: until the client goes away, the
// test ends or stall passes. Every later request gets 200.
func stallServer(t *testing.T, stall time.Duration) (url string, calls *atomic.Int32) {
	t.Helper()
	calls = new(atomic.Int32)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			ok(w)
			return
		}
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Repeat("s", 10))
		http.NewResponseController(w).Flush()
		tm := time.NewTimer(stall)
		defer tm.Stop()
		select {
		case <-r.Context().Done():
		case <-done:
		case <-tm.C:
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return srv.URL, calls
}

// TestDiscardedResponseNeverBlocks: the body of a retried 503 that stalls
// is given up after a short drain, so the retry runs at once, and a
// deadline is not spent on it.
func TestDiscardedResponseNeverBlocks(t *testing.T) {
	const stall = 3 * time.Second
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
	}{
		{name: "no deadline"},
		{name: "deadline", deadline: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, calls := stallServer(t, stall)
			tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{})))
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			start := time.Now()
			resp, err := do(t, tr, req)
			elapsed := time.Since(start)
			if errors.Is(err, retry.ErrContextDone) {
				t.Fatalf("got %v after %s; the drain spent the deadline", err, elapsed)
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("got %v, %v after %s; want the retry's 200", resp, err, elapsed)
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("server ran %d requests, want 2", n)
			}
			// Far below the stall: the drain gave up, it did not wait it out.
			if elapsed > stall/3 {
				t.Fatalf("took %s against a body stalled for %s", elapsed, stall)
			}
		})
	}
}

// TestDiscardedResponseKeepsItsConnection: a retried 503 whose body
// arrives is drained, so the retry reuses its connection.
func TestDiscardedResponseKeepsItsConnection(t *testing.T) {
	var calls atomic.Int32
	addrs := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addrs <- r.RemoteAddr
		if calls.Add(1) > 1 {
			ok(w)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Repeat("s", 4096))
	}))
	t.Cleanup(srv.Close)
	tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{})))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := do(t, tr, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %v, %v; want the retry's 200", resp, err)
	}
	if first, second := <-addrs, <-addrs; first != second {
		t.Fatalf("the retry came from %s, the 503's connection was %s: the drained connection was not reused", second, first)
	}
}
