package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/resilient-http/resilient/transport"
)

// TestBaseProtocolsRespected: New never turns on a protocol the base has
// off. Over TLS to a server that speaks HTTP/2, the Transport speaks the
// protocol the bare base speaks.
func TestBaseProtocolsRespected(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	http1 := func(b *http.Transport) {
		b.Protocols = new(http.Protocols)
		b.Protocols.SetHTTP1(true)
	}
	http2Only := func(b *http.Transport) {
		b.Protocols = new(http.Protocols)
		b.Protocols.SetHTTP2(true)
	}
	tests := []struct {
		name    string
		base    func(*http.Transport) // applied to a clone of http.DefaultTransport
		godebug string
		want    int // the response's ProtoMajor
	}{
		{name: "default", want: 2},
		{name: "Protocols: HTTP/1 only", base: http1, want: 1},
		{name: "Protocols: HTTP/2 only", base: http2Only, want: 2},
		{name: "GODEBUG=http2client=0", godebug: "http2client=0", want: 1},
		{name: "GODEBUG=http2client=0 beats Protocols", base: http2Only, godebug: "x=1,http2client=0", want: 1},
		{name: "GODEBUG: the last setting wins", godebug: "http2client=0,http2client=1", want: 2},
		{name: "custom TLS config without ForceAttemptHTTP2", base: func(b *http.Transport) { b.ForceAttemptHTTP2 = false }, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.godebug != "" {
				t.Setenv("GODEBUG", tt.godebug)
			}
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.TLSClientConfig = &tls.Config{RootCAs: roots}
			if tt.base != nil {
				tt.base(base)
			}
			bare := base.Clone()
			t.Cleanup(bare.CloseIdleConnections)
			for name, rt := range map[string]http.RoundTripper{"bare base": bare, "Transport": newTransport(t, transport.WithBase(base))} {
				got := protoMajor(t, rt, srv.URL)
				if got != tt.want {
					t.Errorf("%s: HTTP/%d, want HTTP/%d (0: no protocol in common)", name, got, tt.want)
				}
			}
		})
	}
}

// protoMajor sends a GET and returns the major version of the response's
// protocol, 0 when the request failed.
func protoMajor(t *testing.T, rt http.RoundTripper, url string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Logf("GET: %v", err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.ProtoMajor
}

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNewWithDefaultTransportReplaced: a program may replace
// http.DefaultTransport with any RoundTripper; New without WithBase still
// works, and does not send through the replacement (which may be a
// Transport itself).
func TestNewWithDefaultTransportReplaced(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	saved := http.DefaultTransport
	t.Cleanup(func() { http.DefaultTransport = saved })
	called := false
	http.DefaultTransport = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		called = true
		return saved.RoundTrip(r)
	})

	rt := newTransport(t)
	if got := protoMajor(t, rt, srv.URL); got != 1 {
		t.Fatalf("GET through New() with DefaultTransport replaced: HTTP/%d, want HTTP/1", got)
	}
	if called {
		t.Error("the request went through the replaced DefaultTransport")
	}
}
