package transport_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/transport"
)

// h2cServer starts Go's http.Server speaking only cleartext HTTP/2 (prior
// knowledge) on 127.0.0.1, and counts the connections it accepted.
func h2cServer(t *testing.T, h http.Handler) (url string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	conns = new(atomic.Int32)
	srv := &http.Server{Handler: h, Protocols: &p, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String(), conns
}

// h2cBase is a base transport that speaks cleartext HTTP/2 only, and counts
// its dials.
func h2cBase(dials *atomic.Int32) *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	d := &net.Dialer{}
	return &http.Transport{Protocols: &p, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
}

// TestH2CSharedConnectionNotClosedUnderRequest: on a cleartext HTTP/2
// connection, fast GETs finishing while a slow POST is in flight must not
// arm the idle limit, whose timer would close the connection under the
// POST.
func TestH2CSharedConnectionNotClosedUnderRequest(t *testing.T) {
	const limit = 50 * time.Millisecond // the tracker's floor
	slowIn, slowGo := make(chan struct{}), make(chan struct{})
	srvURL, conns := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(slowIn)
			<-slowGo
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	var dials atomic.Int32
	rt := newTransport(t, transport.WithBase(h2cBase(&dials)),
		transport.WithBackendIdleTimeout(limit), transport.WithIdleRatio(1), transport.WithoutRetry())

	type result struct {
		resp *http.Response
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srvURL+"/slow", io.NopCloser(strings.NewReader("payload")))
		resp, err := rt.RoundTrip(req)
		slow <- result{resp, err}
	}()
	select {
	case <-slowIn:
	case r := <-slow:
		t.Fatalf("the slow POST ended before the server got it: %v", r.err)
	}
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, srvURL+"/fast", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("GET %d went over HTTP/%d, want h2c", i, resp.ProtoMajor)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// An armed limit would fire within limit: waiting is the only way to
	// see a timer that must not fire.
	time.Sleep(4 * limit)
	close(slowGo)
	r := <-slow
	if r.err != nil {
		t.Fatalf("the slow POST failed: %v", r.err)
	}
	body, err := io.ReadAll(r.resp.Body)
	r.resp.Body.Close()
	if err != nil || string(body) != "ok" {
		t.Fatalf("the slow POST's body: %q, %v", body, err)
	}
	if d, c := dials.Load(), conns.Load(); d != 1 || c != 1 {
		t.Errorf("%d dials, %d server connections; want one shared connection", d, c)
	}
}

// TestH2CAttemptErrorSaysHTTP2: a failed attempt on a cleartext HTTP/2
// connection is reported as HTTP/2, so that HTTP/1's byte-count stages are
// not applied to it.
func TestH2CAttemptErrorSaysHTTP2(t *testing.T) {
	srvURL, _ := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler) // a stream reset
		}
		_, _ = io.WriteString(w, "ok")
	}))
	var dials atomic.Int32
	rt := newTransport(t, transport.WithBase(h2cBase(&dials)), transport.WithoutRetry())
	for _, path := range []string{"/abort", "/warm", "/abort"} { // fresh, then a reused connection
		req, _ := http.NewRequest(http.MethodPost, srvURL+path, io.NopCloser(strings.NewReader("payload")))
		resp, err := rt.RoundTrip(req)
		if path == "/warm" {
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: no error", path)
		}
		var ae *transport.AttemptError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: %v (%T) is not an *AttemptError", path, err, err)
		}
		if !ae.HTTP2 {
			t.Errorf("%s: AttemptError.HTTP2 = false on an h2c connection (%v)", path, err)
		}
	}
}
