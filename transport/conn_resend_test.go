package transport_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
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

// TestBaseResendKeepsTheFurthestStage: when net/http resends a GET by
// itself after the backend ran it and reset the reused connection, and the
// new connection is reset before a byte leaves, the attempt is not
// unprocessed: the first connection delivered the request. A claim of
// "nothing written" there would let any method be repeated.
func TestBaseResendKeepsTheFurthestStage(t *testing.T) {
	b := testserver.GoBackend(t, time.Minute)
	u := *b.URL
	u.RawQuery = "reset=after" // the second request of a connection runs, then the connection is reset
	var dials atomic.Int64
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil || dials.Add(1) == 1 {
			return c, err
		}
		return &resetBeforeWrite{Conn: c}, nil
	}
	rt := newTransport(t, transport.WithBase(base), transport.WithoutRetry())

	for i, id := range []string{"warm", "get"} {
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		req.Header.Set("X-Request-Id", id)
		resp, err := rt.RoundTrip(req)
		if i == 0 {
			if err != nil {
				t.Fatalf("first GET: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Fatal("second GET succeeded; want the resend's reset")
		}
		var ae *transport.AttemptError
		if !errors.As(err, &ae) {
			t.Fatalf("second GET: %v, want an *AttemptError", err)
		}
		if errors.Is(err, transport.ErrUnprocessed) || !ae.Stage.MayHaveReachedServer() {
			t.Errorf("second GET: stage %v, unprocessed %v; want a stage that may have reached the server: %v",
				ae.Stage, errors.Is(err, transport.ErrUnprocessed), err)
		}
	}
	if dials.Load() != 2 {
		t.Errorf("%d dials, want 2: the warm-up's and the resend's", dials.Load())
	}
	if runs := b.Runs(t, "get"); runs != 1 {
		t.Errorf("the GET ran %d times, want 1", runs)
	}
}

// resetBeforeWrite is a connection the backend reset before the client
// wrote to it: the first write fails with nothing written.
type resetBeforeWrite struct {
	net.Conn
	once sync.Once
}

func (c *resetBeforeWrite) Write(p []byte) (int, error) {
	var err error
	c.once.Do(func() {
		err = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
		_ = c.Conn.Close()
	})
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
