package transport

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// lateDial is a scenario in which net/http dials for a request that no
// longer needs the connection: request B waits for its dial, request A's
// connection comes back to the pool first and is handed to B, B ends,
// and only then does B's dial go on. net/http dials on a context that
// keeps the request's values: the dial still runs the httptrace hooks
// the request's context carries (DNS, TLS), after B's response body has
// ended, which is when the transport reuses B's attempt.
type lateDial struct {
	dials      atomic.Int32
	dialing    chan struct{} // closed when the second dial has begun
	release    chan struct{} // closed to let the second dial go on
	dialed     chan struct{} // closed when the second dial returned
	dnsStart   atomic.Int32  // B's caller's hooks
	dnsDone    atomic.Int32
	tlsStart   atomic.Int32
	tlsDone    chan struct{} // closed by B's caller's TLSHandshakeDone
	tlsDoneRun atomic.Int32
}

// dial is the base transport's dialer: the second dial waits for release.
func (l *lateDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if l.dials.Add(1) == 2 {
		close(l.dialing)
		<-l.release
		defer close(l.dialed)
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// trace is B's caller's own httptrace.ClientTrace, as otelhttp's
// WithClientTrace installs one.
func (l *lateDial) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { l.dnsStart.Add(1) },
		DNSDone:           func(httptrace.DNSDoneInfo) { l.dnsDone.Add(1) },
		TLSHandshakeStart: func() { l.tlsStart.Add(1) },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			if l.tlsDoneRun.Add(1) == 1 {
				close(l.tlsDone)
			}
		},
	}
}

// runLateDial runs the scenario on rt (over base, whose dialer and TLS
// settings it sets), against a server at host ("localhost": the late dial
// resolves a name; "127.0.0.1": it does not).
func runLateDial(t *testing.T, useTLS bool, host string, wrap func(*http.Transport) http.RoundTripper) *lateDial {
	t.Helper()
	held, unhold := make(chan struct{}), make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(held)
			<-unhold
		}
		_, _ = io.WriteString(w, "ok")
	}))
	base := &http.Transport{}
	if useTLS {
		srv.EnableHTTP2 = false
		srv.StartTLS()
		base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		base.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	l := &lateDial{dialing: make(chan struct{}), release: make(chan struct{}), dialed: make(chan struct{}), tlsDone: make(chan struct{})}
	base.DialContext = l.dial
	rt := wrap(base)
	t.Cleanup(func() {
		if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	u, _ := url.Parse(srv.URL)
	u.Host = net.JoinHostPort(host, u.Port())

	get := func(ctx context.Context, path string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body) // to io.EOF: the attempt may be reused
		return err
	}
	aDone := make(chan error, 1)
	go func() { aDone <- get(context.Background(), "/hold") }() // dial 1
	<-held
	bDone := make(chan error, 1)
	go func() { bDone <- get(httptrace.WithClientTrace(context.Background(), l.trace()), "/b") }()
	<-l.dialing // B dials; its request waits
	close(unhold)
	if err := <-aDone; err != nil { // A's connection goes back to the pool, to B
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	close(l.release) // B's dial goes on, after B ended
	<-l.dialed
	if useTLS {
		select {
		case <-l.tlsDone:
		case <-time.After(10 * time.Second):
			t.Errorf("the TLS handshake of the late dial never reached the hooks of the request that started it")
		}
	}
	return l
}

// TestReview2LateDialHooks: FINDING: the attempt's httptrace.ClientTrace
// lived in the attempt, which is reused once its response body ended;
// net/http's dial for that request can still run after that and reads the
// trace's hooks then: DNSStart and DNSDone through httptrace's nettrace
// closures, which call the trace's field without a nil check (a zeroed
// attempt panics in net/http's dial goroutine and kills the process),
// TLSHandshakeStart and Done read from the reused object (a data race,
// and the hooks of whichever request uses the attempt now). The caller's
// hooks must see the late dial exactly as with net/http alone.
func TestReview2LateDialHooks(t *testing.T) {
	for _, tt := range []struct {
		name   string
		useTLS bool
		host   string
		dns    int32
	}{
		{"http", false, "localhost", 1},
		{"https", true, "localhost", 1},
		{"https to an IP address", true, "127.0.0.1", 0},
	} {
		useTLS, host := tt.useTLS, tt.host
		t.Run(tt.name, func(t *testing.T) {
			want := runLateDial(t, useTLS, host, func(b *http.Transport) http.RoundTripper { return b })
			if want.dnsStart.Load() != tt.dns {
				t.Fatalf("net/http alone: the late dial ran DNSStart %d times, want %d: the scenario is broken", want.dnsStart.Load(), tt.dns)
			}
			got := runLateDial(t, useTLS, host, func(b *http.Transport) http.RoundTripper { return New(WithBase(b)) })
			for _, h := range []struct {
				name      string
				got, want int32
			}{
				{"DNSStart", got.dnsStart.Load(), want.dnsStart.Load()},
				{"DNSDone", got.dnsDone.Load(), want.dnsDone.Load()},
				{"TLSHandshakeStart", got.tlsStart.Load(), want.tlsStart.Load()},
				{"TLSHandshakeDone", got.tlsDoneRun.Load(), want.tlsDoneRun.Load()},
			} {
				if h.got != h.want {
					t.Errorf("the caller's %s ran %d times for the late dial, net/http alone %d", h.name, h.got, h.want)
				}
			}
		})
	}
}
