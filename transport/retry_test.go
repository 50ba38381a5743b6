package transport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// script is a backend whose n-th request (from 1) gets the n-th step; the
// last step repeats. It records the bodies it read.
type script struct {
	srv    *httptest.Server
	calls  atomic.Int32
	bodies chan string
}

type step func(w http.ResponseWriter)

func ok(w http.ResponseWriter) { _, _ = io.WriteString(w, "ok") }

func status(code int, header ...string) step {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

// reset kills the connection with an RST after the request was read.
func reset(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

func newScript(t *testing.T, steps ...step) *script {
	s := &script{bodies: make(chan string, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case s.bodies <- string(b):
		default:
		}
		n := int(s.calls.Add(1))
		steps[min(n, len(steps))-1](w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func fastPolicy(p retry.Policy) retry.Policy {
	p.BackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	return p
}

func do(t *testing.T, tr *transport.Transport, req *http.Request) (*http.Response, error) {
	t.Helper()
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestRetryLoop(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		steps    []step
		policy   retry.Policy
		wantCode int
		wantStop error
		calls    int32
	}{
		{"GET reset then ok", "GET", []step{reset, ok}, retry.Policy{}, 200, nil, 2},
		{"GET 503 then ok", "GET", []step{status(503), ok}, retry.Policy{}, 200, nil, 2},
		{"GET 503 until attempts run out returns the response", "GET", []step{status(503)}, retry.Policy{}, 503, nil, 3},
		{"GET 500 is final", "GET", []step{status(500), ok}, retry.Policy{}, 500, nil, 1},
		{"GET 429 retried when configured", "GET", []step{status(429, "Retry-After", "0"), ok}, retry.Policy{Statuses: []int{429}}, 200, nil, 2},
		{"GET reset until attempts run out", "GET", []step{reset}, retry.Policy{MaxAttempts: 4}, 0, retry.ErrMaxAttempts, 4},
		{"POST reset after read is not retried", "POST", []step{reset, ok}, retry.Policy{}, 0, retry.ErrPolicy, 1},
		{"POST 503 is not retried", "POST", []step{status(503), ok}, retry.Policy{}, 503, nil, 1},
		{"MaxAttempts 1 disables retries", "GET", []step{reset, ok}, retry.Policy{MaxAttempts: 1}, 0, retry.ErrMaxAttempts, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.steps...)
			tr := transport.New(transport.WithRetry(fastPolicy(tt.policy)))
			req, _ := http.NewRequest(tt.method, s.srv.URL, strings.NewReader("x"))
			resp, err := do(t, tr, req)
			if got := s.calls.Load(); got != tt.calls {
				t.Errorf("server ran %d requests, want %d", got, tt.calls)
			}
			if tt.wantCode != 0 {
				if err != nil || resp.StatusCode != tt.wantCode {
					t.Fatalf("got %v, %v; want status %d", resp, err, tt.wantCode)
				}
				return
			}
			var re *retry.Error
			var ae *transport.AttemptError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v does not carry the attempt's classification", err)
			}
			if !errors.As(err, &re) || !errors.Is(err, tt.wantStop) || re.Attempts != int(tt.calls) {
				t.Fatalf("got %v, want stop %v after %d attempts", err, tt.wantStop, tt.calls)
			}
		})
	}
}

func TestRetryAfterSecondsIsWaited(t *testing.T) {
	s := newScript(t, status(503, "Retry-After", "1"), ok)
	tr := transport.New()
	req, _ := http.NewRequest("GET", s.srv.URL, nil)
	start := time.Now()
	resp, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v, %v", resp, err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("retried after %s, before the server's Retry-After of 1s", el)
	}
}

// TestBackOffPastDeadlineStops: a wait that would end past the deadline is
// not started, and the stop says so while the context is still live.
func TestBackOffPastDeadlineStops(t *testing.T) {
	s := newScript(t, reset)
	tr := transport.New(transport.WithRetry(retry.Policy{BackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }, MaxElapsed: 2 * time.Hour}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.srv.URL, nil)
	_, err := do(t, tr, req)
	if ctx.Err() != nil {
		t.Fatalf("returned after the deadline: %v", err)
	}
	if !errors.Is(err, retry.ErrDeadlineTooNear) || errors.Is(err, retry.ErrContextDone) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want ErrDeadlineTooNear and no context error while the context is live", err)
	}
}

// signalBackOff waits long and tells when the loop asked for it.
type signalBackOff struct{ asked chan struct{} }

func (b *signalBackOff) NextBackOff() time.Duration { close(b.asked); return 20 * time.Second }
func (b *signalBackOff) Reset()                     {}

func TestCancelDuringWaitReturnsPromptly(t *testing.T) {
	s := newScript(t, reset)
	bo := &signalBackOff{asked: make(chan struct{})}
	tr := transport.New(transport.WithRetry(retry.Policy{BackOff: func() backoff.BackOff { return bo }}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.srv.URL, nil)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	<-bo.asked
	canceled := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return after cancellation")
	}
	tr.CloseIdleConnections()
	if el := time.Since(canceled); el > time.Second {
		t.Errorf("returned %s after cancel", el)
	}
	var ae *transport.AttemptError
	if !errors.Is(err, context.Canceled) || !errors.Is(err, retry.ErrContextDone) || !errors.As(err, &ae) {
		t.Fatalf("got %v; want context.Canceled, retry.ErrContextDone and the last attempt", err)
	}
}

func TestBudgetExhaustionAndRecovery(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s := newScript(t, func(w http.ResponseWriter) {
		if failing.Load() {
			reset(w)
			return
		}
		ok(w)
	})
	tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{MaxAttempts: 5})), transport.WithRetryBudget(retry.NewBudget(0.5, 1, time.Hour)))
	get := func() error {
		req, _ := http.NewRequest("GET", s.srv.URL, nil)
		resp, err := do(t, tr, req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		return err
	}
	err := get()
	var re *retry.Error
	if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.As(err, &re) || re.Attempts != 2 {
		t.Fatalf("got %v; want budget exhausted after 2 attempts", err)
	}
	if err := get(); !errors.Is(err, retry.ErrBudgetExhausted) {
		t.Fatalf("got %v; want no retry while the budget is empty", err)
	}
	failing.Store(false)
	for range 2 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	failing.Store(true)
	if err := get(); !errors.As(err, &re) || re.Attempts != 2 {
		t.Fatalf("got %v; want one retry again after the backend recovered", err)
	}
}

// countingBody counts the bodies GetBody handed out.
func getBodyCounter(req *http.Request, n *atomic.Int32) {
	get := req.GetBody
	req.GetBody = func() (io.ReadCloser, error) { n.Add(1); return get() }
}

func TestBodiesAreReplayed(t *testing.T) {
	payload := strings.Repeat("p", 5000)
	tests := []struct {
		name    string
		getBody bool
	}{
		{"GetBody", true},
		{"buffered while streaming", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, reset, status(503), ok)
			tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{})))
			req, _ := http.NewRequest("PUT", s.srv.URL, strings.NewReader(payload))
			var gets atomic.Int32
			if tt.getBody {
				getBodyCounter(req, &gets)
			} else {
				req.GetBody = nil
				req.Body = io.NopCloser(strings.NewReader(payload))
			}
			resp, err := do(t, tr, req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("got %v, %v", resp, err)
			}
			for i := range 3 {
				if b := <-s.bodies; b != payload {
					t.Fatalf("attempt %d sent %d bytes, want the %d-byte body", i+1, len(b), len(payload))
				}
			}
			if tt.getBody && gets.Load() != 2 {
				t.Fatalf("GetBody called %d times, want 2", gets.Load())
			}
		})
	}
}

// closeRecorder reports when the transport closes the caller's body.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestBodyOverLimitIsNotRetried(t *testing.T) {
	s := newScript(t, reset, ok)
	tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{BodyLimit: 16})))
	body := &closeRecorder{Reader: bytes.NewReader(make([]byte, 1000))}
	req, _ := http.NewRequest("PUT", s.srv.URL, body)
	_, err := do(t, tr, req)
	if !errors.Is(err, retry.ErrBodyNotReplayable) || !strings.Contains(err.Error(), "GetBody") {
		t.Fatalf("got %v; want a body-not-replayable error that says what to do", err)
	}
	if s.calls.Load() != 1 {
		t.Fatalf("server ran %d requests, want 1", s.calls.Load())
	}
	if !body.closed.Load() {
		t.Fatal("the caller's body was not closed")
	}
}

func TestHookDeclines(t *testing.T) {
	s := newScript(t, reset, ok)
	tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{Hook: func(retry.Attempt) bool { return true }})))
	var seen []retry.Attempt
	ctx := retry.WithHook(context.Background(), func(a retry.Attempt) bool {
		seen = append(seen, a)
		return false
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", s.srv.URL, strings.NewReader("x"))
	_, err := do(t, tr, req)
	var ae *transport.AttemptError
	if !errors.Is(err, retry.ErrPolicy) || !strings.Contains(err.Error(), "hook_declined") {
		t.Fatalf("got %v; want the per-request hook's refusal", err)
	}
	if len(seen) != 1 || seen[0].Request != req || seen[0].Number != 1 || !errors.As(seen[0].Err, &ae) {
		t.Fatalf("hook saw %+v; want one call with the request and a classified attempt", seen)
	}
	if s.calls.Load() != 1 {
		t.Fatalf("server ran %d requests, want 1", s.calls.Load())
	}
}

func TestIdempotencyKeyIsStableAndCallerUntouched(t *testing.T) {
	keys := make(chan string, 4)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get("Idempotency-Key")
		if n.Add(1) == 1 {
			reset(w)
			return
		}
		ok(w)
	}))
	t.Cleanup(srv.Close)
	tr := transport.New(transport.WithRetry(fastPolicy(retry.Policy{Hook: func(retry.Attempt) bool { return true }, IdempotencyKey: true})))
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("x"))
	if _, err := do(t, tr, req); err != nil {
		t.Fatal(err)
	}
	k1, k2 := <-keys, <-keys
	if k1 == "" || k1 != k2 {
		t.Fatalf("keys %q, %q; want one stable key on every attempt", k1, k2)
	}
	if req.Header.Get("Idempotency-Key") != "" {
		t.Fatal("the caller's request was modified")
	}

	req, _ = http.NewRequest("POST", srv.URL, strings.NewReader("x"))
	req.Header.Set("Idempotency-Key", "mine")
	if _, err := do(t, tr, req); err != nil {
		t.Fatal(err)
	}
	if k := <-keys; k != "mine" {
		t.Fatalf("key %q; the caller's key was overwritten", k)
	}
}
