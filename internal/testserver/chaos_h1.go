package testserver

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"
)

// chaosIdleTimeout is how long the HTTP/1.1 listener keeps a connection
// idle: short, so that pooled connections are closed under the client's
// feet while requests keep coming.
const chaosIdleTimeout = 120 * time.Millisecond

// keepAlives are Keep-Alive header values a client must survive.
var keepAlives = []string{
	"timeout=0, max=1",
	"max=1",
	"timeout=abc",
	"timeout=99999999999999999999, max=99999999999999999999",
	"timeout=-5, max=-1",
	"max=0",
	"timeout=1e9, max=abc",
	"timeout=",
}

// chaosH1 is Chaos's HTTP/1.1 listener: Go's http.Server with a handler
// that runs the faults.
type chaosH1 struct {
	c    *Chaos
	srv  *http.Server
	addr string
	// work counts the handlers and the goroutines that close hijacked
	// connections late: http.Server.Close waits for neither.
	work chaosWork
	done chan struct{} // Serve returned
}

func startChaosH1(t testing.TB, c *Chaos) *chaosH1 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &chaosH1{c: c, addr: ln.Addr().String(), done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s,
		IdleTimeout:       chaosIdleTimeout,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s
}

// close stops the server and every connection, hijacked ones included,
// and waits for its goroutines.
func (s *chaosH1) close() {
	_ = s.srv.Close()
	<-s.done
	s.work.close()
}

func (s *chaosH1) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !s.work.add() {
		return
	}
	defer s.work.done()
	r := s.c.arrive(req.Proto, req.Method, req.Header.Get("X-Request-Id"), req.Header.Get("Traceparent"),
		req.Header.Get("Idempotency-Key"), req.Header.Get("X-Body-Len"), h1Faults, FaultNone)
	switch r.Fault {
	case FaultResetBefore:
		s.hijack(w, nil, true)
		return
	case FaultJunkBefore:
		s.hijack(w, r.junk(), false)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return // the client or the connection gave up: not executed
	}
	run := s.c.execute(r, body)
	switch r.Fault {
	case FaultResetAfter:
		s.c.reset(run)
		s.hijack(w, nil, true)
	case FaultJunkAfter:
		s.hijack(w, r.junk(), false)
	case FaultCloseAfter:
		s.closeAfter(w, r, run)
	case FaultKeepAlive:
		w.Header().Set("Keep-Alive", keepAlives[r.rng.IntN(len(keepAlives))])
		_, _ = io.WriteString(w, "ok")
	case FaultStallFinish, FaultStallAbort:
		w.Header().Set("Content-Length", "8")
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		if s.c.stall(r, req.Context().Done()) && r.Fault == FaultStallFinish {
			_, _ = io.WriteString(w, "done")
			return
		}
		s.c.reset(run)
		s.hijack(w, nil, true)
	case Fault503:
		w.Header().Set("Retry-After", r.retryAfter())
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "busy")
	default:
		_, _ = io.WriteString(w, "ok")
	}
}

// junk draws a malformed response carrying a hostile text: a bad status
// line, a bad header line, a bad Content-Length or no HTTP at all.
func (r *chaosRequest) junk() []byte {
	text := r.hostileText()
	switch r.rng.IntN(4) {
	case 0:
		return fmt.Appendf(nil, "HTTP/1.1 2x0 %s\r\n\r\n", text)
	case 1:
		return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\n%s\r\n\r\n", text)
	case 2:
		return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n", text)
	default:
		return fmt.Appendf(nil, "%s\r\n\r\n", text)
	}
}

// hijack takes the connection from net/http, writes raw to it, and closes
// it: with an RST when reset is set.
func (s *chaosH1) hijack(w http.ResponseWriter, raw []byte, reset bool) {
	nc, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if len(raw) > 0 {
		_, _ = buf.Write(raw)
		_ = buf.Flush()
	}
	if tc, ok := nc.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// closeAfter answers 200 as a keep-alive connection would, then closes the
// connection 0 to 30ms later without having said so: the client may be
// reusing it by then.
func (s *chaosH1) closeAfter(w http.ResponseWriter, r *chaosRequest, run int) {
	nc, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	_, _ = io.WriteString(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	if err := buf.Flush(); err != nil {
		_ = nc.Close()
		return
	}
	reset := r.rng.IntN(2) == 0
	if reset {
		// An RST may discard the answer the client has not read yet.
		s.c.reset(run)
	}
	delay := time.Duration(r.rng.IntN(30)) * time.Millisecond
	if !s.work.add() {
		_ = nc.Close()
		return
	}
	go func() {
		defer s.work.done()
		tm := time.NewTimer(delay)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-s.c.stop:
		}
		// A request the client sent meanwhile is never executed.
		if tc, ok := nc.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		_ = nc.Close()
	}()
}
