package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shapesServer answers by path in the shapes a backend may give a response
// whose end is where an attempt is reused.
func shapesServer(t *testing.T) *url.URL {
	t.Helper()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(bytes.Repeat([]byte("hello "), 1000))
	_ = zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // answers 100 Continue to an Expect
		switch r.URL.Path {
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(zipped.Bytes())
		case "/chunked":
			_, _ = io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "lo")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "hello")
		case "/hints":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			_, _ = io.WriteString(w, "hello")
		default:
			_, _ = io.WriteString(w, "hello")
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	u.Host = net.JoinHostPort("localhost", u.Port())
	return u
}

// hookCounts counts a caller's own httptrace hooks, every one set.
type hookCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *hookCounts) add(name string) {
	h.mu.Lock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[name]++
	h.mu.Unlock()
}

func (h *hookCounts) get(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[name]
}

func (h *hookCounts) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { h.add("GetConn") },
		GotConn:              func(httptrace.GotConnInfo) { h.add("GotConn") },
		PutIdleConn:          func(error) { h.add("PutIdleConn") },
		GotFirstResponseByte: func() { h.add("GotFirstResponseByte") },
		Got100Continue:       func() { h.add("Got100Continue") },
		Got1xxResponse:       func(int, textproto.MIMEHeader) error { h.add("Got1xxResponse"); return nil },
		DNSStart:             func(httptrace.DNSStartInfo) { h.add("DNSStart") },
		DNSDone:              func(httptrace.DNSDoneInfo) { h.add("DNSDone") },
		ConnectStart:         func(string, string) { h.add("ConnectStart") },
		ConnectDone:          func(string, string, error) { h.add("ConnectDone") },
		TLSHandshakeStart:    func() { h.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { h.add("TLSHandshakeDone") },
		WroteHeaderField:     func(string, []string) { h.add("WroteHeaderField") },
		WroteHeaders:         func() { h.add("WroteHeaders") },
		Wait100Continue:      func() { h.add("Wait100Continue") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { h.add("WroteRequest") },
	}
}

// TestReview2ReuseShapes: attempts reused across responses of every shape
// (gzip-transparent, chunked, bodiless, Connection: close, 103 Early
// Hints, Expect: 100-continue) keep their promises: a caller's own hooks
// run as often as net/http alone runs them, a connection whose response
// ended goes idle and is reused (gzip included: net/http's gzip reader
// reads its body's io.EOF before returning its own), and one the backend
// closes is not.
func TestReview2ReuseShapes(t *testing.T) {
	u := shapesServer(t)
	shapes := []struct {
		name, method, path string
		body               string
		keepAlive          bool
	}{
		{"plain", http.MethodGet, "/", "", true},
		{"gzip", http.MethodGet, "/gzip", "", true},
		{"chunked", http.MethodGet, "/chunked", "", true},
		{"HEAD", http.MethodHead, "/", "", true},
		{"204", http.MethodGet, "/204", "", true},
		{"Connection: close", http.MethodGet, "/close", "", false},
		{"103 Early Hints", http.MethodGet, "/hints", "", true},
		{"POST 103 Early Hints", http.MethodPost, "/hints", "order", true},
		{"POST Expect: 100-continue", http.MethodPost, "/", strings.Repeat("x", 4096), true},
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			run := func(rt http.RoundTripper, dials *atomic.Int32, check bool) *hookCounts {
				h := &hookCounts{}
				for i := range 3 {
					var body io.Reader
					if s.body != "" {
						body = strings.NewReader(s.body)
					}
					req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), h.trace()), s.method, u.String()+s.path, body)
					if s.body != "" {
						req.Header.Set("Expect", "100-continue")
					}
					resp, err := rt.RoundTrip(req)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					var c *conn
					if b, ok := resp.Body.(*attemptBody); ok && check {
						c = b.a.Load().conn
					}
					got, err := io.ReadAll(resp.Body)
					if err != nil {
						t.Fatalf("request %d body: %v", i, err)
					}
					if s.method != http.MethodHead && s.path != "/204" && !bytes.HasPrefix(got, []byte("hel")) {
						t.Fatalf("request %d body %.20q", i, got)
					}
					if s.path == "/gzip" && !resp.Uncompressed {
						t.Fatalf("request %d: the base did not decompress", i)
					}
					if c != nil {
						c.mu.Lock()
						state := c.state
						c.mu.Unlock()
						want := connIdle
						if !s.keepAlive {
							// Released at the end it saw; net/http closes
							// it itself.
							if state != connIdle && state != connClosed {
								t.Errorf("request %d: connection in state %d after its body ended", i, state)
							}
						} else if state != want {
							t.Errorf("request %d: connection in state %d after its body ended, want idle (%d)", i, state, want)
						}
					}
					_ = resp.Body.Close()
				}
				if want := int32(1); s.keepAlive && dials.Load() != want {
					t.Errorf("%d dials for 3 requests on a kept-alive connection", dials.Load())
				}
				if !s.keepAlive && dials.Load() != 3 {
					t.Errorf("%d dials for 3 requests on connections the backend closes", dials.Load())
				}
				return h
			}
			base := func(dials *atomic.Int32) *http.Transport {
				b := countingBase(dials)
				b.ExpectContinueTimeout = 5 * time.Second
				return b
			}
			var bareDials, ourDials atomic.Int32
			bare := base(&bareDials)
			t.Cleanup(bare.CloseIdleConnections)
			want := run(bare, &bareDials, false)
			ours := New(WithBase(base(&ourDials)), WithoutRetry())
			t.Cleanup(ours.CloseIdleConnections)
			got := run(ours, &ourDials, true)
			for _, name := range []string{"GetConn", "GotConn", "PutIdleConn", "GotFirstResponseByte", "Got100Continue",
				"Got1xxResponse", "DNSStart", "DNSDone", "ConnectStart", "ConnectDone", "WroteHeaders", "Wait100Continue", "WroteRequest"} {
				if g, w := got.get(name), want.get(name); g != w {
					t.Errorf("the caller's %s ran %d times, net/http alone %d", name, g, w)
				}
			}
		})
	}
}
