//go:build linux

package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// resetFirstConn is a backend whose first connection is reset as soon as
// it is accepted, before the client wrote a byte, and whose later
// connections serve requests normally, counting executions.
type resetFirstConn struct {
	addr   string
	dialed chan struct{} // closed once the client's first dial completed
	reset  chan struct{} // closed once the first connection was reset

	mu   sync.Mutex
	runs int
}

func newResetFirstConn(t *testing.T) *resetFirstConn {
	s := &resetFirstConn{dialed: make(chan struct{}), reset: make(chan struct{})}
	var accepted atomic.Int32
	s.addr = rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if accepted.Add(1) == 1 {
			// A reset that arrived before the client's connect returned
			// would fail the dial instead.
			select {
			case <-s.dialed:
			case <-time.After(10 * time.Second):
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			close(s.reset)
			return
		}
		for readRequest(br) == nil {
			s.mu.Lock()
			s.runs++
			s.mu.Unlock()
			if _, err := io.WriteString(c, okResponse); err != nil {
				return
			}
		}
	})
	return s
}

func (s *resetFirstConn) executions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// base returns a base transport whose first connection reaches net/http
// only once the backend's reset has arrived, and that lets net/http read
// from it only after its first write, so that net/http buffers the whole
// request (its WroteRequest hook fires) before the flush finds the
// connection dead: the path on which net/http reports a request written
// that moved no byte.
func (s *resetFirstConn) base(t *testing.T) *http.Transport {
	var dials atomic.Int32
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		first := dials.Add(1) == 1
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil || !first {
			return c, err
		}
		close(s.dialed)
		select {
		case <-s.reset:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
		if err := awaitReset(c.(*net.TCPConn)); err != nil {
			c.Close()
			return nil, err
		}
		return newReadGate(c, true), nil
	}
	return base
}

// awaitReset waits until the peer's reset has reached c, peeking so that
// no byte is consumed.
func awaitReset(c *net.TCPConn) error {
	sc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	// A bound, should the reset never come; the reset makes the socket
	// readable, which is what the wait is for.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var buf [1]byte
	var peekErr error
	err = sc.Read(func(fd uintptr) bool {
		_, _, peekErr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return !errors.Is(peekErr, syscall.EAGAIN)
	})
	if err != nil {
		return err
	}
	if !errors.Is(peekErr, syscall.ECONNRESET) {
		return fmt.Errorf("peek found %v, want the backend's reset", peekErr)
	}
	return nil
}

// readGate holds reads, once armed, until a write made after the arming
// has returned, so that net/http's reader cannot see a reset before its
// writer has tried to write.
type readGate struct {
	net.Conn
	wrote chan struct{}
	armed atomic.Bool
	once  sync.Once
}

func newReadGate(c net.Conn, armed bool) *readGate {
	g := &readGate{Conn: c, wrote: make(chan struct{})}
	g.armed.Store(armed)
	return g
}

func (g *readGate) arm() { g.armed.Store(true) }

func (g *readGate) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	if g.armed.Load() {
		g.once.Do(func() { close(g.wrote) })
	}
	return n, err
}

func (g *readGate) Read(p []byte) (int, error) {
	if g.armed.Load() {
		<-g.wrote
	}
	return g.Conn.Read(p)
}

func (g *readGate) Close() error {
	g.once.Do(func() { close(g.wrote) })
	return g.Conn.Close()
}

// TestClassifyResetBeforeFirstWrite: the backend resets a new connection
// before the client wrote to it. Not one byte leaves, so the attempt is
// nothing_written and provably unprocessed, whether net/http flushed the
// headers of a streamed body on their own (and failed) or buffered a whole
// small request, reported it written, and only then failed to flush.
func TestClassifyResetBeforeFirstWrite(t *testing.T) {
	tests := []struct {
		name string
		body func() io.Reader
		// buffered is whether net/http reports the request written.
		buffered bool
	}{
		{"whole request buffered", func() io.Reader { return strings.NewReader("order") }, true},
		{"streamed body, headers flushed", func() io.Reader { return io.MultiReader(strings.NewReader("order")) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newResetFirstConn(t)
			c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(s.base(t)))}
			var buffered atomic.Bool
			trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
				buffered.Store(info.Err == nil)
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				http.MethodPost, "http://"+s.addr+"/", tt.body())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(req)
			if buffered.Load() != tt.buffered {
				t.Fatalf("net/http reported the request written: %v, want %v; the scenario is broken (%v)", buffered.Load(), tt.buffered, err)
			}
			// Which error net/http reports is up to the scheduler: the
			// failed write (reset), its reader's EOF, or the reader's read
			// of the connection the writer had closed (other); the stage is
			// what says that nothing was sent.
			var ae *transport.AttemptError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
			}
			t.Logf("kind %v: %v", ae.Kind, err)
			checkAttempt(t, err, want{
				stage: retry.StageNothingWritten, kind: ae.Kind,
				is:    []error{transport.ErrUnprocessed},
				isNot: []error{transport.ErrDial},
			})
			if ae.BytesWritten != 0 || ae.BytesRead != 0 {
				t.Errorf("bytes written %d, read %d; want none", ae.BytesWritten, ae.BytesRead)
			}
			if n := s.executions(); n != 0 {
				t.Errorf("the backend ran the request %d times, want 0", n)
			}
		})
	}
}

// TestResetBeforeFirstWriteRetried: with the default retry policy the POST
// of TestClassifyResetBeforeFirstWrite is repeated on a new connection,
// which the backend serves: it runs exactly once.
func TestResetBeforeFirstWriteRetried(t *testing.T) {
	s := newResetFirstConn(t)
	c := &http.Client{Transport: newTransport(t, transport.WithBase(s.base(t)))}
	var mu sync.Mutex
	var wrote []error
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		mu.Lock()
		wrote = append(wrote, info.Err)
		mu.Unlock()
	}}
	// A body that net/http buffers whole with the headers.
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://"+s.addr+"/", strings.NewReader("order"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST after a reset before the first write: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(wrote) != 2 || wrote[0] != nil {
		t.Fatalf("net/http reported the attempts written with %v, want two, the first without error; the scenario is broken", wrote)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n := s.executions(); n != 1 {
		t.Fatalf("the backend ran the POST %d times, want 1", n)
	}
}

// TestClassifyResetBeforeFirstWriteTLS is TestClassifyResetBeforeFirstWrite
// over TLS: the handshake's bytes are no request bytes. The backend
// completes the handshake (TLS 1.2 without tickets, so that nothing is
// left unread), then resets the connection once the client has it; the
// client's reader is held from the end of the handshake until the request
// write has failed.
func TestClassifyResetBeforeFirstWriteTLS(t *testing.T) {
	certSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(certSrv.Close)
	serverConf := &tls.Config{Certificates: certSrv.TLS.Certificates, MaxVersion: tls.VersionTLS12, SessionTicketsDisabled: true}
	gotConn := make(chan struct{}) // the client has the connection
	reset := make(chan struct{})   // the backend has reset it
	addr := rawServer(t, func(c net.Conn, _ *bufio.Reader) {
		if tls.Server(c, serverConf).Handshake() != nil {
			return
		}
		select {
		case <-gotConn:
		case <-time.After(10 * time.Second):
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		close(reset)
	})

	gates := make(chan *readGate, 1)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = certSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		g := newReadGate(c, false)
		gates <- g
		return g, nil
	}
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(base))}

	var gate *readGate
	var buffered atomic.Bool
	var waitErr error
	trace := &httptrace.ClientTrace{
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			gate = <-gates
			gate.arm()
		},
		GotConn: func(httptrace.GotConnInfo) {
			close(gotConn)
			<-reset
			waitErr = awaitReset(gate.Conn.(*net.TCPConn))
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) { buffered.Store(info.Err == nil) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "https://"+addr+"/", strings.NewReader("order"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(req)
	if waitErr != nil || !buffered.Load() {
		t.Fatalf("reset seen: %v, request reported written: %v; the scenario is broken (%v)", waitErr, buffered.Load(), err)
	}
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
	}
	t.Logf("kind %v: %v", ae.Kind, err)
	checkAttempt(t, err, want{
		stage: retry.StageNothingWritten, kind: ae.Kind,
		is:    []error{transport.ErrUnprocessed},
		isNot: []error{transport.ErrDial},
	})
	if ae.BytesWritten != 0 || ae.BytesRead != 0 {
		t.Errorf("bytes written %d, read %d after the handshake; want none", ae.BytesWritten, ae.BytesRead)
	}
}
