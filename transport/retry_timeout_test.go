package transport_test

import (
	"bufio"
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

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// attemptTimeout is short enough for tests and long enough that a local
// server answers well within it on a loaded machine.
const attemptTimeout = 300 * time.Millisecond

// TestAttemptTimeoutRetries: a Go server hangs the first attempt until the
// client gives up on it, and answers the second at once. Under
// Policy.AttemptTimeout a GET succeeds in two attempts within the caller's
// deadline; a POST, which the hung attempt had delivered, is not repeated,
// and its error says the attempt timed out.
func TestAttemptTimeoutRetries(t *testing.T) {
	tests := []struct {
		method   string
		wantOK   bool
		wantRuns int64
	}{
		{http.MethodGet, true, 2},
		{http.MethodPost, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var runs atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if runs.Add(1) == 1 {
					<-r.Context().Done() // the client ended the attempt
					return
				}
				_, _ = io.WriteString(w, "ok")
			}))
			t.Cleanup(srv.Close)
			tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{AttemptTimeout: attemptTimeout})))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tt.method, srv.URL, strings.NewReader("x"))
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			took := time.Since(start)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "ok" {
					t.Errorf("body %q", b)
				}
			}
			t.Logf("%s: %v after %s, server ran it %d times", tt.method, err, took.Round(time.Millisecond), runs.Load())
			if (err == nil) != tt.wantOK {
				t.Fatalf("got %v, want success %v", err, tt.wantOK)
			}
			if got := runs.Load(); got != tt.wantRuns {
				t.Errorf("the server ran it %d times, want %d", got, tt.wantRuns)
			}
			if took < attemptTimeout || took > 5*time.Second {
				t.Errorf("took %s, want one attempt timeout and little more", took)
			}
			if err != nil {
				var ae *transport.AttemptError
				var re *retry.Error
				if !errors.As(err, &ae) || ae.Kind != retry.KindAttemptTimeout || !errors.As(err, &re) || re.Attempts != 1 || re.Reason != "not_idempotent" {
					t.Fatalf("got %v; want one attempt, kind attempt_timeout, not retried as not idempotent", err)
				}
				if !strings.Contains(err.Error(), "attempt_timeout") {
					t.Errorf("the error does not say the attempt timed out: %v", err)
				}
			}
		})
	}
}

// TestAttemptTimeoutDial: an attempt whose dial outlives the timeout never
// reached the server, so even a POST is repeated; the server runs it once.
func TestAttemptTimeoutDial(t *testing.T) {
	var runs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	var dials atomic.Int64
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			<-ctx.Done() // a dial that hangs until the attempt is ended
			return nil, ctx.Err()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr := newTransport(t, transport.WithBase(base), transport.WithRetry(fastPolicy(retry.Policy{AttemptTimeout: attemptTimeout})))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("got %v; want the POST repeated after a dial that timed out", err)
	}
	resp.Body.Close()
	if runs.Load() != 1 || dials.Load() != 2 {
		t.Fatalf("server ran it %d times over %d dials, want once over 2", runs.Load(), dials.Load())
	}
}

// TestAttemptTimeoutSlowBody: a server that sends its headers at once and
// then streams its body for several times the attempt timeout, over
// HTTP/1.1 and HTTP/2. The body is read completely, without error, and
// the attempt's context is never canceled.
func TestAttemptTimeoutSlowBody(t *testing.T) {
	const chunks = 6
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				rc := http.NewResponseController(w)
				_ = rc.Flush()
				for range chunks {
					select {
					case <-r.Context().Done():
						return
					case <-time.After(attemptTimeout / 3):
					}
					_, _ = io.WriteString(w, "chunk\n")
					_ = rc.Flush()
				}
			}))
			srv.EnableHTTP2 = proto == "HTTP/2.0"
			srv.StartTLS()
			t.Cleanup(srv.Close)
			base := srv.Client().Transport.(*http.Transport).Clone()
			tr := newTransport(t, transport.WithBase(base), transport.WithRetry(fastPolicy(retry.Policy{AttemptTimeout: attemptTimeout})))
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Proto != proto {
				t.Fatalf("spoke %s, want %s", resp.Proto, proto)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			t.Logf("%s: read %d bytes in %s with an attempt timeout of %s", proto, len(b), took.Round(time.Millisecond), attemptTimeout)
			if err != nil || string(b) != strings.Repeat("chunk\n", chunks) {
				t.Fatalf("read %q, %v; want the whole body", b, err)
			}
			if took < 2*attemptTimeout {
				t.Fatalf("the body took %s, not longer than the attempt timeout: the test proves nothing", took)
			}
			if err := resp.Request.Context().Err(); err != nil {
				t.Fatalf("the attempt's context was canceled after its response: %v", err)
			}
		})
	}
}

// TestAttemptTimeoutShorterApplies: with the base's ResponseHeaderTimeout
// shorter than AttemptTimeout, the base's ends the attempt (KindTimeout);
// with AttemptTimeout shorter, ours does (KindAttemptTimeout).
func TestAttemptTimeoutShorterApplies(t *testing.T) {
	tests := []struct {
		name           string
		header, per    time.Duration
		wantKind       retry.Kind
		wantAtMostTook time.Duration
	}{
		{"ResponseHeaderTimeout shorter", attemptTimeout, time.Minute, retry.KindTimeout, 30 * time.Second},
		{"AttemptTimeout shorter", time.Minute, attemptTimeout, retry.KindAttemptTimeout, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}))
			t.Cleanup(srv.Close)
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.ResponseHeaderTimeout = tt.header
			tr := newTransport(t, transport.WithBase(base), transport.WithRetry(retry.Policy{MaxAttempts: 1, AttemptTimeout: tt.per}))
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			start := time.Now()
			_, err := tr.RoundTrip(req)
			took := time.Since(start)
			var ae *transport.AttemptError
			if !errors.As(err, &ae) || ae.Kind != tt.wantKind {
				t.Fatalf("got %v; want kind %s", err, tt.wantKind)
			}
			if took > tt.wantAtMostTook {
				t.Fatalf("took %s", took)
			}
		})
	}
}

// TestAttemptTimeoutSpan: the span of an attempt that timed out says so.
func TestAttemptTimeoutSpan(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	spans := tracetest.NewSpanRecorder()
	tr := newTransport(t, transport.WithRetry(retry.Policy{MaxAttempts: 1, AttemptTimeout: attemptTimeout}),
		transport.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if resp, err := tr.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want an attempt timeout")
	}
	var kinds []string
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "resilient.attempt.kind" {
				kinds = append(kinds, kv.Value.AsString())
			}
		}
	}
	if len(kinds) != 1 || kinds[0] != "attempt_timeout" {
		t.Fatalf("span kinds %q, want one attempt_timeout", kinds)
	}
}

// TestAttemptTimeoutResponseBegun: a server whose response begins within
// the attempt timeout, one byte, and whose headers complete only after it.
// The response won: the attempt is not ended, the request runs once.
func TestAttemptTimeoutResponseBegun(t *testing.T) {
	var runs atomic.Int64
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		runs.Add(1)
		if _, err := io.WriteString(c, okResponse[:1]); err != nil {
			return
		}
		time.Sleep(2 * attemptTimeout) // the rest of the headers come late
		_, _ = io.WriteString(c, okResponse[1:])
	})
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{AttemptTimeout: attemptTimeout})))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("got %v; want the response that had begun in time", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || runs.Load() != 1 {
		t.Fatalf("body: %v; server ran it %d times, want once", err, runs.Load())
	}
}
