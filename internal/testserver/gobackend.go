package testserver

import (
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// GoBackend starts Go's http.Server with IdleTimeout idle. Like most
// servers it closes idle connections silently: no Keep-Alive header.
func GoBackend(t testing.TB, idle time.Duration) *Backend {
	t.Helper()
	l := newLedger()
	g := &goServer{ledger: l, idle: idle}
	g.start(t, "127.0.0.1:0")
	t.Cleanup(g.stop)
	return &Backend{
		Name:   "go",
		URL:    &url.URL{Scheme: "http", Host: g.addr},
		ledger: func(testing.TB) map[string]int { return l.snapshot() },
		stop:   func(testing.TB) { g.stop() },
		start:  func(t testing.TB) { g.start(t, g.addr) },
	}
}

// goServer is the Go server behind GoBackend and the upstream of
// NginxBackend.
type goServer struct {
	ledger *ledger
	idle   time.Duration
	addr   string

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
}

func (g *goServer) start(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{
		Handler:           behave(g.ledger),
		IdleTimeout:       g.idle,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       countRequests,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	g.mu.Lock()
	g.srv, g.done, g.addr = srv, done, ln.Addr().String()
	g.mu.Unlock()
}

// stop closes the listener and every connection at once.
func (g *goServer) stop() {
	g.mu.Lock()
	srv, done := g.srv, g.done
	g.mu.Unlock()
	_ = srv.Close()
	<-done
}
