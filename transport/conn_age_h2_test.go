package transport_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/transport"
)

// TestMaxConnectionAgeLeavesHTTP2: the age limit leaves HTTP/2
// connections alone, cleartext or over TLS: one connection carries every
// request, long past its age, and none fails.
func TestMaxConnectionAgeLeavesHTTP2(t *testing.T) {
	const age = 5 * time.Millisecond
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	tests := []struct {
		name  string
		start func(t *testing.T) (url string, base *http.Transport, conns *atomic.Int32)
	}{
		{name: "h2c", start: func(t *testing.T) (string, *http.Transport, *atomic.Int32) {
			url, conns := h2cServer(t, ok)
			return url, h2cBase(new(atomic.Int32)), conns
		}},
		{name: "TLS", start: func(t *testing.T) (string, *http.Transport, *atomic.Int32) {
			conns := new(atomic.Int32)
			srv := httptest.NewUnstartedServer(ok)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.EnableHTTP2 = true
			srv.StartTLS()
			t.Cleanup(srv.Close)
			return srv.URL, srv.Client().Transport.(*http.Transport), conns
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, base, conns := tt.start(t)
			rt := newTransport(t, transport.WithBase(base), transport.WithMaxConnectionAge(age), transport.WithoutRetry())
			c := &http.Client{Transport: rt}
			for i := range 10 {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 {
					t.Fatalf("request %d: HTTP/%d, want HTTP/2", i, resp.ProtoMajor)
				}
				time.Sleep(2 * age)
			}
			if got := conns.Load(); got != 1 {
				t.Errorf("the server saw %d connections, want 1", got)
			}
		})
	}
}
