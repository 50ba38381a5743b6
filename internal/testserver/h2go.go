package testserver

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// drainTimeout bounds how long a drained Go server waits for its streams.
const drainTimeout = 10 * time.Second

func goH2Backend(t testing.TB) *H2 {
	t.Helper()
	l := newLedger()
	cert := SelfSigned(t)
	g := &goH2{handler: h2Only(behave(l)), tls: cert.Server}
	g.start(t, "127.0.0.1:0")
	t.Cleanup(g.stop)
	return &H2{
		Name:   "go",
		URL:    &url.URL{Scheme: "https", Host: g.addr},
		Cert:   cert,
		ledger: func(testing.TB) map[string]int { return l.snapshot() },
		drain:  g.drain,
	}
}

// goH2 is Go's http.Server over TLS on one address: the serving one and
// those still draining.
type goH2 struct {
	handler http.Handler
	tls     *tls.Config
	addr    string

	mu      sync.Mutex
	servers []*goH2Server // the last one serves, the others drain
}

type goH2Server struct {
	srv      *http.Server
	lnClosed chan struct{}  // closed when the listener is
	running  sync.WaitGroup // Serve, and Shutdown once called
}

func (g *goH2) start(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	s := &goH2Server{
		srv: &http.Server{
			Handler:           g.handler,
			TLSConfig:         g.tls.Clone(),
			ReadHeaderTimeout: 10 * time.Second,
			// A client that drops a connection mid-handshake is no news.
			ErrorLog: log.New(io.Discard, "", 0),
		},
		lnClosed: make(chan struct{}),
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		_ = s.srv.ServeTLS(&signalListener{Listener: ln, closed: s.lnClosed}, "", "")
	}()
	g.mu.Lock()
	g.servers = append(g.servers, s)
	g.addr = ln.Addr().String()
	g.mu.Unlock()
}

// drain shuts the serving server down and starts its replacement as soon
// as the listener is closed.
func (g *goH2) drain(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	s := g.servers[len(g.servers)-1]
	g.mu.Unlock()
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	}()
	<-s.lnClosed
	g.start(t, g.addr)
}

// stop closes every server and every connection at once, and waits for
// the servers to return.
func (g *goH2) stop() {
	g.mu.Lock()
	servers := g.servers
	g.mu.Unlock()
	for _, s := range servers {
		_ = s.srv.Close()
		s.running.Wait()
	}
}

// signalListener closes closed when it is closed.
type signalListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *signalListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}
