//go:build linux

package transport_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
		return &writeFirst{Conn: c, wrote: make(chan struct{})}, nil
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

// writeFirst holds reads until the first write has returned.
type writeFirst struct {
	net.Conn
	wrote chan struct{}
	once  sync.Once
}

func (c *writeFirst) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.once.Do(func() { close(c.wrote) })
	return n, err
}

func (c *writeFirst) Read(p []byte) (int, error) {
	<-c.wrote
	return c.Conn.Read(p)
}

func (c *writeFirst) Close() error {
	c.once.Do(func() { close(c.wrote) })
	return c.Conn.Close()
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
				stage: transport.StageNothingWritten, kind: ae.Kind,
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
