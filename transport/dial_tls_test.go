package transport

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCallersTLSDialerKeepsTLS: a connection from the caller's own
// DialTLSContext reaches net/http as the *tls.Conn it is, so that the
// response says how TLS went (resp.TLS) and HTTP/2 is negotiated as the
// bare transport negotiates it.
func TestCallersTLSDialerKeepsTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	newBase := func() *http.Transport {
		return &http.Transport{
			ForceAttemptHTTP2: true,
			DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "example.com", NextProtos: []string{"h2", "http/1.1"}}}
				return d.DialContext(ctx, network, addr)
			},
		}
	}
	get := func(rt http.RoundTripper) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	bare := newBase()
	t.Cleanup(bare.CloseIdleConnections)
	want := get(bare)
	ours := New(WithBase(newBase()))
	t.Cleanup(ours.CloseIdleConnections)
	got := get(ours)
	if got.TLS == nil {
		t.Errorf("resp.TLS is nil; the bare transport's is %v", want.TLS != nil)
	}
	if got.Proto != want.Proto {
		t.Errorf("protocol %s, the bare transport's %s", got.Proto, want.Proto)
	}
}
