package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
)

// TestSpeaksHTTP2 follows net/http's rules for when a Transport speaks
// HTTP/2 over TLS.
func TestSpeaksHTTP2(t *testing.T) {
	dial := func(context.Context, string, string) (net.Conn, error) { return nil, nil }
	protocols := func(h1, h2 bool) *http.Protocols {
		p := new(http.Protocols)
		p.SetHTTP1(h1)
		p.SetHTTP2(h2)
		return p
	}
	tests := []struct {
		name    string
		base    *http.Transport
		godebug string
		want    bool
	}{
		{name: "zero value", base: &http.Transport{}, want: true},
		{name: "custom dialer", base: &http.Transport{DialContext: dial}, want: false},
		{name: "custom TLS config", base: &http.Transport{TLSClientConfig: &tls.Config{}}, want: false},
		{name: "custom TLS dialer", base: &http.Transport{DialTLSContext: dial}, want: false},
		{name: "TLSNextProto empty: HTTP/2 off", base: &http.Transport{TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, ForceAttemptHTTP2: true}, want: false},
		{name: "custom dialer, ForceAttemptHTTP2", base: &http.Transport{DialContext: dial, ForceAttemptHTTP2: true}, want: true},
		{name: "Protocols HTTP/1", base: &http.Transport{Protocols: protocols(true, false), ForceAttemptHTTP2: true}, want: false},
		{name: "Protocols HTTP/2", base: &http.Transport{Protocols: protocols(false, true), DialContext: dial}, want: true},
		{name: "GODEBUG off", base: &http.Transport{ForceAttemptHTTP2: true}, godebug: "http2client=0", want: false},
		{name: "GODEBUG off beats Protocols", base: &http.Transport{Protocols: protocols(true, true)}, godebug: "http2client=0", want: false},
		{name: "GODEBUG on", base: &http.Transport{}, godebug: "http2client=1", want: true},
		{name: "GODEBUG last wins", base: &http.Transport{}, godebug: "http2client=0, http2server=0,http2client=1", want: true},
		{name: "GODEBUG other keys", base: &http.Transport{}, godebug: "http2client0=0,xhttp2client=0", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GODEBUG", tt.godebug)
			if got := speaksHTTP2(tt.base); got != tt.want {
				t.Errorf("speaksHTTP2 = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNewKeepsBaseHTTP2: a base that speaks HTTP/2 by net/http's defaults
// (no dialer of its own) still does once cloned and given our dialers,
// fresh or already cloned (net/http then set its own HTTP/2 up on it).
func TestNewKeepsBaseHTTP2(t *testing.T) {
	base := &http.Transport{}
	for _, state := range []string{"fresh", "cloned"} {
		if rt := New(WithBase(base)); rt.http2 == nil {
			t.Fatalf("%s: HTTP/2 not configured on a zero base, which speaks it by default", state)
		}
	}
	if rt := New(WithBase(&http.Transport{DialContext: (&net.Dialer{}).DialContext})); rt.http2 != nil {
		t.Fatal("HTTP/2 configured on a base with a custom dialer, which net/http keeps on HTTP/1")
	}
}
