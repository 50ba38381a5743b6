package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/transport"
)

// forwardProxy starts an HTTP forward proxy on 127.0.0.1. It answers
// plain-http requests itself, with its own Keep-Alive header (the
// targets' are hop-by-hop and do not pass), and tunnels CONNECT requests
// to their target untouched.
func forwardProxy(t *testing.T, keepAlive string) *url.URL {
	t.Helper()
	upstream := &http.Transport{}
	t.Cleanup(upstream.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.Host = "" }, // pr.Out.URL is the absolute target
		Transport: upstream,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("Keep-Alive", keepAlive)
			return nil
		},
	}
	var (
		mu      sync.Mutex
		tunnels []net.Conn
		wg      sync.WaitGroup
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			rp.ServeHTTP(w, r)
			return
		}
		target, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		client, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			target.Close()
			return
		}
		mu.Lock()
		tunnels = append(tunnels, client, target)
		mu.Unlock()
		_, _ = io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
		pipe := func(dst net.Conn, src io.Reader) {
			defer wg.Done()
			_, _ = io.Copy(dst, src)
			dst.Close()
		}
		wg.Add(2)
		go pipe(target, brw)
		go pipe(client, target)
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range tunnels {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	u, _ := url.Parse(srv.URL)
	return u
}

// keepAliveServer starts a target that advertises keepAlive, over TLS when
// tlsOn.
func keepAliveServer(t *testing.T, keepAlive string, tlsOn bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", keepAlive)
		_, _ = io.WriteString(w, "ok")
	}))
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestProxyLimitsBelongToThePeer: through a forward proxy, plain-http
// requests to two targets share the connection to the proxy, whose
// Keep-Alive describes the proxy, not either target: the limit is learned
// for the proxy. An https target is reached through a CONNECT tunnel, so
// its own Keep-Alive is learned for it.
func TestProxyLimitsBelongToThePeer(t *testing.T) {
	proxy := forwardProxy(t, "timeout=7")
	a := keepAliveServer(t, "timeout=3", false)
	b := keepAliveServer(t, "timeout=5", false)
	c := keepAliveServer(t, "timeout=4", true)
	roots := x509.NewCertPool()
	roots.AddCert(c.Certificate())
	base := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: roots}}
	rt := newTransport(t, transport.WithBase(base), transport.WithoutRetry())

	for _, target := range []string{a.URL, b.URL, a.URL, c.URL} {
		req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s through the proxy: %v", target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	advertised := func(d time.Duration) idle.Limit {
		return idle.Limit{Timeout: time.Duration(float64(d) * idle.DefaultRatio), Source: idle.SourceAdvertised}
	}
	tests := []struct {
		name string
		url  string
		want idle.Limit
	}{
		{name: "the proxy", url: proxy.String(), want: advertised(7 * time.Second)},
		{name: "plain-http target A", url: a.URL},
		{name: "plain-http target B", url: b.URL},
		{name: "https target through a tunnel", url: c.URL, want: advertised(4 * time.Second)},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		if got := rt.IdleLimit(u); got != tt.want {
			t.Errorf("%s: limit %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
