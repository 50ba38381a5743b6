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

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
	"go.opentelemetry.io/otel/attribute"
)

// TestDeadlineTooNearIsNotContextDone: when the next attempt could only
// start past the deadline, the loop stops at once and says so, while the
// context is still live; it does not claim the context ended.
func TestDeadlineTooNearIsNotContextDone(t *testing.T) {
	const deadline = 500 * time.Millisecond
	tests := []struct {
		name    string
		step    step
		backOff time.Duration
		// wantCode is the response returned as it is; 0 when the attempt
		// failed and the error must say why the loop stopped.
		wantCode int
	}{
		{name: "503 with Retry-After past the deadline", step: status(http.StatusServiceUnavailable, "Retry-After", "1"), wantCode: http.StatusServiceUnavailable},
		{name: "reset with a backoff past the deadline", step: reset, backOff: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.step, ok)
			r := newRig(t)
			p := fastPolicy(retry.Policy{MaxElapsed: 2 * time.Hour})
			if tt.backOff > 0 {
				p.BackOff = func() backoff.BackOff { return backoff.NewConstantBackOff(tt.backOff) }
			}
			tr := newTransport(t, r.options(transport.WithRetry(p))...)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if ctx.Err() != nil {
				t.Fatalf("returned after the deadline (%v); want an early stop", err)
			}
			if resp != nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if n := s.calls.Load(); n != 1 {
				t.Fatalf("server ran %d requests, want 1", n)
			}
			if tt.wantCode != 0 {
				if err != nil || resp.StatusCode != tt.wantCode {
					t.Fatalf("got %v, %v; want the %d itself", resp, err, tt.wantCode)
				}
			} else if !errors.Is(err, retry.ErrDeadlineTooNear) || errors.Is(err, retry.ErrContextDone) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v; want ErrDeadlineTooNear and no context error", err)
			}
			rm := r.collect(t)
			denied := sum(rm, "resilient.client.retries.denied", attribute.String("resilient.retry.denied_by", "deadline"), attribute.String("resilient.retry.reason", "deadline_too_near"))
			if denied != 1 || sum(rm, "resilient.client.retries.denied") != 1 {
				t.Fatalf("%d of %d denied retries were for the deadline; want the one", denied, sum(rm, "resilient.client.retries.denied"))
			}
		})
	}
}

// hangOnce is a backend whose first request hangs until its client goes
// away (or the test ends) and whose later requests get 200.
func hangOnce(t *testing.T) (url string, calls *atomic.Int32) {
	t.Helper()
	calls = new(atomic.Int32)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) > 1 {
			ok(w)
			return
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return srv.URL, calls
}

// headerTimeoutBase is a base transport whose ResponseHeaderTimeout is the
// only timeout an attempt meets.
func headerTimeoutBase() *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Long enough for a loaded machine to answer the second attempt.
	base.ResponseHeaderTimeout = 300 * time.Millisecond
	return base
}

// TestBaseTimeoutEndsTheAttemptNotTheRequest: a ResponseHeaderTimeout of
// the base transport fails one attempt while the request's context is live.
// An idempotent request is retried; a POST, which may have run, is not,
// and neither reports a done context.
func TestBaseTimeoutEndsTheAttemptNotTheRequest(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		wantCalls int32
		wantOK    bool
	}{
		{name: "GET is retried", method: http.MethodGet, wantCalls: 2, wantOK: true},
		{name: "POST is not", method: http.MethodPost, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, calls := hangOnce(t)
			tr := newTransport(t, transport.WithBase(headerTimeoutBase()), transport.WithRetry(fastPolicy(retry.Policy{})))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tt.method, url, strings.NewReader("order"))
			resp, err := do(t, tr, req)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server ran %d requests, want %d", got, tt.wantCalls)
			}
			if tt.wantOK {
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("got %v, %v; want the retry's 200", resp, err)
				}
				return
			}
			var re *retry.Error
			var ae *transport.AttemptError
			if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, retry.ErrPolicy) || re.Reason != "not_idempotent" {
				t.Fatalf("got %v; want the policy's refusal to repeat a POST after one attempt", err)
			}
			if errors.Is(err, retry.ErrContextDone) || ctx.Err() != nil {
				t.Fatalf("got %v; the request's context was live", err)
			}
			if !errors.As(err, &ae) || ae.Stage != retry.StageRequestWritten {
				t.Fatalf("got %v; want an attempt that timed out after the request was written", err)
			}
		})
	}
}

// TestBaseTimeoutKind: the attempt that the base transport's
// ResponseHeaderTimeout ended is a KindTimeout, not a context's deadline.
// The classifier makes that distinction; the retry decision above does not
// depend on it.
func TestBaseTimeoutKind(t *testing.T) {
	url, _ := hangOnce(t)
	tr := newTransport(t, transport.WithBase(headerTimeoutBase()), transport.WithoutRetry())
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("order"))
	_, err := do(t, tr, req)
	var ae *transport.AttemptError
	if !errors.As(err, &ae) || ae.Kind != retry.KindTimeout {
		t.Fatalf("got %v; want a KindTimeout attempt", err)
	}
}
