package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/resilient-http/resilient/transport"
)

// TestRoundTripLeavesRequestAlone checks the RoundTripper contract: the
// caller's request is the same after RoundTrip, whether it succeeded or
// failed.
func TestRoundTripLeavesRequestAlone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Keep-Alive", "timeout=5")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()

	rt := newTransport(t)
	for _, target := range []string{srv.URL + "/path?q=1", refused} {
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, io.NopCloser(strings.NewReader("body")))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request", "1")
		req.Header.Add("Accept", "a, b")
		req.Trailer = http.Header{"X-Trailer": nil}
		before := *req
		before.Header = req.Header.Clone()
		before.Trailer = req.Trailer.Clone()
		u := *req.URL
		before.URL = &u

		resp, err := rt.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if !reflect.DeepEqual(&before, req) {
			t.Errorf("%s: RoundTrip modified the request:\nbefore %+v\nafter  %+v", target, before, *req)
		}
		if req.Context() != ctx {
			t.Errorf("%s: RoundTrip replaced the request's context", target)
		}
		cancel()
	}
}

func TestReverseProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	t.Cleanup(backend.Close)
	target, _ := url.Parse(backend.URL)

	var (
		mu       sync.Mutex
		proxyErr error
	)
	rt := newTransport(t)
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: rt,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			proxyErr = err
			mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	})
	t.Cleanup(proxy.Close)
	client := proxy.Client()
	t.Cleanup(client.CloseIdleConnections)

	resp, err := client.Post(proxy.URL+"/echo", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "POST /echo hello"; got != want {
		t.Errorf("through the proxy: %q, want %q", got, want)
	}

	// With the backend gone, the proxy's error handler gets our error.
	backend.Close()
	rt.CloseIdleConnections()
	resp, err = client.Get(proxy.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d with the backend gone, want 502", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	var ae *transport.AttemptError
	if !errors.As(proxyErr, &ae) || !errors.Is(proxyErr, transport.ErrDial) || !errors.Is(proxyErr, transport.ErrUnprocessed) {
		t.Errorf("proxy error %v is not a classified dial failure", proxyErr)
	}
}

// TestReverseProxyUpgrade sends a 101 Switching Protocols through
// httputil.ReverseProxy, which needs the response body to be the raw
// connection (an io.ReadWriteCloser), and echoes bytes across it.
func TestReverseProxyUpgrade(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		if brw.Flush() != nil {
			return
		}
		_, _ = io.Copy(c, brw)
	}))
	t.Cleanup(backend.Close)
	target, _ := url.Parse(backend.URL)
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: newTransport(t),
	})
	t.Cleanup(proxy.Close)

	c, err := net.Dial("tcp", proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: proxy\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	for _, msg := range []string{"hello", "again"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != msg {
			t.Errorf("echo %q, want %q", got, msg)
		}
	}
}
