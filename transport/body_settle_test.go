package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// gatedBrokenBody yields a first chunk, then waits for its gate before it
// fails, counting its failures. The gate is the client seeing the backend
// drop the connection, or, with closeOpens, the body's own Close (as
// x/net/http2 closes it, beside its writer's read, on a stream the server
// reset): either way the caller's body breaks while the base transport is
// already returning the backend's error, the race in which a retry would
// read the body again through GetBody.
type gatedBrokenBody struct {
	gate       chan struct{}
	closeOpens bool
	once       sync.Once
	failures   *atomic.Int32
	sent       bool
}

func (b *gatedBrokenBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, strings.Repeat("b", 512)), nil
	}
	<-b.gate
	b.failures.Add(1)
	return 0, errClientGone
}

func (b *gatedBrokenBody) Close() error {
	if b.closeOpens {
		b.once.Do(func() { close(b.gate) })
	}
	return nil
}

// readSignal is a connection that closes seen when a read fails: the
// client saw the backend's reset.
type readSignal struct {
	net.Conn
	once *sync.Once
	seen chan struct{}
}

func (c readSignal) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.once.Do(func() { close(c.seen) })
	}
	return n, err
}

// TestCallersBodyBreakingAfterTheBackend: a PUT whose body (with GetBody)
// breaks just after the client saw the backend reset the connection is
// the caller's failure, however the two race: it is not retried, so the
// body, and its GetBody copies, break at most once.
func TestCallersBodyBreakingAfterTheBackend(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	})
	for i := range 20 {
		var once sync.Once
		seen := make(chan struct{})
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			return readSignal{Conn: c, once: &once, seen: seen}, nil
		}
		rt := newTransport(t, transport.WithBase(base))
		var failures atomic.Int32
		newBody := func() io.ReadCloser { return &gatedBrokenBody{gate: seen, failures: &failures} }
		req, _ := http.NewRequest(http.MethodPut, "http://"+addr, newBody())
		req.ContentLength = 4096
		req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: a response from a server that answers none", i)
		}
		// The reset may stop the writer before it reads the body again;
		// then the body never broke, and the failure is the backend's.
		n := failures.Load()
		if n > 1 {
			t.Errorf("request %d: the body broke %d times, want at most once: retried after the caller's own failure (%v)", i, n, err)
		}
		var ae *transport.AttemptError
		if n == 1 && errors.As(err, &ae) && ae.Kind != retry.KindRequestBody {
			t.Errorf("request %d: the body broke, but the kind is %v, want %v: %v", i, ae.Kind, retry.KindRequestBody, err)
		}
	}
}

// TestCallersBodyBreakingBesideAStreamReset: over HTTP/2, a PUT whose body
// (with GetBody) breaks while the base transport aborts the stream the
// server reset is the caller's failure: x/net/http2 returns the stream's
// error without waiting for the body's writer, and the attempt waits for
// the body to settle before it is classified, so it is not retried and
// the body breaks once.
func TestCallersBodyBreakingBesideAStreamReset(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // RST_STREAM before the body is read
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.ForceAttemptHTTP2 = true
	rt := newTransport(t, transport.WithBase(base))
	for i := range 10 {
		var failures atomic.Int32
		newBody := func() io.ReadCloser {
			return &gatedBrokenBody{gate: make(chan struct{}), closeOpens: true, failures: &failures}
		}
		req, _ := http.NewRequest(http.MethodPut, srv.URL, newBody())
		req.ContentLength = 4096
		req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: a response from a handler that aborts", i)
		}
		if resp == nil && i == 0 {
			t.Logf("first error: %v", err)
		}
		if n := failures.Load(); n != 1 {
			t.Errorf("request %d: the body broke %d times, want once: retried after the caller's own failure (%v)", i, n, err)
		}
	}
}
