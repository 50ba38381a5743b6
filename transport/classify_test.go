package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

func TestClassifyRefusedDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}
	_, err = post(c, "http://"+addr+"/")
	ae := checkAttempt(t, err, want{
		stage: retry.StageNotConnected, kind: retry.KindDial,
		is:    []error{transport.ErrDial, transport.ErrUnprocessed, syscall.ECONNREFUSED},
		isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrServerClosedIdle},
	})
	if ae.BytesWritten != 0 || ae.BytesRead != 0 {
		t.Errorf("bytes %d/%d on a refused dial", ae.BytesWritten, ae.BytesRead)
	}
}

// TestClassifyOnReusedConn runs the failures that end a second request on a
// kept-alive connection: the server answers the first request and then
// misbehaves on the second.
func TestClassifyOnReusedConn(t *testing.T) {
	tests := []struct {
		name string
		// second runs after the first response was written.
		second func(c net.Conn, br *bufio.Reader)
		want   want
	}{
		{
			name: "FIN after the request was read",
			second: func(c net.Conn, br *bufio.Reader) {
				_ = readRequest(br)
			},
			want: want{
				stage: retry.StageRequestWritten, kind: retry.KindEOF, reused: true,
				is:    []error{transport.ErrResetBeforeHeaders, io.EOF},
				isNot: []error{transport.ErrUnprocessed, transport.ErrServerClosedIdle, transport.ErrDial},
			},
		},
		{
			name: "RST after the request was read",
			second: func(c net.Conn, br *bufio.Reader) {
				_ = readRequest(br)
				_ = c.(*net.TCPConn).SetLinger(0)
			},
			want: want{
				stage: retry.StageRequestWritten, kind: retry.KindReset, reused: true,
				is:    []error{transport.ErrResetBeforeHeaders, syscall.ECONNRESET},
				isNot: []error{transport.ErrUnprocessed, transport.ErrServerClosedIdle},
			},
		},
		{
			// net/http parses the partial status line that EOF left it
			// with, so it reports a malformed response, not the EOF: the
			// stage is what tells that the server had started answering.
			name: "status line cut off",
			second: func(c net.Conn, br *bufio.Reader) {
				_ = readRequest(br)
				_, _ = io.WriteString(c, "HTTP/1.1 20")
			},
			want: want{
				stage: retry.StageResponseStarted, kind: retry.KindOther, reused: true,
				isNot: []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders, io.ErrUnexpectedEOF},
			},
		},
		{
			// Likewise a header line cut off by EOF is a malformed header.
			name: "header line cut off",
			second: func(c net.Conn, br *bufio.Reader) {
				_ = readRequest(br)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
			},
			want: want{
				stage: retry.StageResponseStarted, kind: retry.KindOther, reused: true,
				isNot: []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders, io.ErrUnexpectedEOF},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				if readRequest(br) != nil {
					return
				}
				if _, err := io.WriteString(c, okResponse); err != nil {
					return
				}
				tt.second(c, br)
			})
			c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}
			getAndDrain(t, c, "http://"+addr+"/")
			_, err := post(c, "http://"+addr+"/")
			ae := checkAttempt(t, err, tt.want)
			if ae.BytesWritten == 0 {
				t.Errorf("BytesWritten = 0 after the request was written")
			}
		})
	}
}

func TestClassifyBodyCutAfterHeaders(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
	})
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}
	resp, err := post(c, "http://"+addr+"/")
	if err != nil {
		t.Fatalf("headers should have arrived: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if len(body) != 10 {
		t.Errorf("read %d body bytes, want 10", len(body))
	}
	ae := checkAttempt(t, err, want{
		stage: retry.StageHeadersReceived, kind: retry.KindEOF,
		is:    []error{io.ErrUnexpectedEOF},
		isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrUnprocessed},
	})
	if ae.BytesRead < 10 {
		t.Errorf("BytesRead = %d, want at least the 10 body bytes", ae.BytesRead)
	}
}

// TestClassifyServerClosedIdle makes the backend close a pooled connection
// in the window where net/http has taken it from the pool for a new request
// but not yet started it: the caller's GotConn hook lets the server close
// and holds the request until the client has read the FIN. net/http then
// reports either "http: server closed idle connection" or, when its writer
// goroutine had not yet noticed the close, a failed write of nothing; both
// must say the request is unprocessed on a reused connection. Which one
// happens is up to the scheduler, so the attempt is repeated (a bounded
// number of times) until the first one has been seen.
func TestClassifyServerClosedIdle(t *testing.T) {
	const tries = 20
	sawClosedIdle := false
	for i := 1; i <= tries && !sawClosedIdle; i++ {
		sawClosedIdle = serverClosedIdleOnce(t)
		if !sawClosedIdle {
			t.Logf("try %d: the write of the request failed first", i)
		}
	}
	if !sawClosedIdle {
		t.Fatalf("net/http never reported server closed idle connection in %d tries", tries)
	}
}

func serverClosedIdleOnce(t *testing.T) (closedIdle bool) {
	closeNow := make(chan struct{}) // the server may close its connection
	closed := make(chan struct{})   // the client closed its side
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) == nil {
			_, _ = io.WriteString(c, okResponse)
		}
		select {
		case <-closeNow:
		case <-time.After(10 * time.Second):
		}
	})
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(signalingBase(closed)))}
	getAndDrain(t, c, "http://"+addr+"/")

	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			close(closeNow)
			<-closed
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("payload")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(req)
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
	}
	if ae.Kind == retry.KindServerClosedIdle {
		checkAttempt(t, err, want{
			stage: retry.StageNothingWritten, kind: retry.KindServerClosedIdle, reused: true,
			is: []error{transport.ErrServerClosedIdle, transport.ErrResetBeforeHeaders, transport.ErrUnprocessed},
		})
		return true
	}
	// The write failed on the connection net/http had closed on the FIN;
	// the FIN is what the attempt reports.
	checkAttempt(t, err, want{
		stage: retry.StageNothingWritten, kind: retry.KindEOF, reused: true,
		is:    []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders, net.ErrClosed, io.EOF},
		isNot: []error{transport.ErrServerClosedIdle},
	})
	return false
}

// TestIdleCloseSeenBeforeReuse: when the client has read the backend's FIN
// on a pooled connection before the next request, net/http drops that
// connection and dials a new one; the request succeeds on a new connection.
func TestIdleCloseSeenBeforeReuse(t *testing.T) {
	closed := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) == nil {
			_, _ = io.WriteString(c, okResponse)
		}
	})
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(signalingBase(closed)))}
	getAndDrain(t, c, "http://"+addr+"/")
	<-closed

	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("payload")))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("request after the idle close was seen: %v", err)
	}
	resp.Body.Close()
	if reused {
		t.Error("request reused the connection the server had closed")
	}
}

// signalingBase returns a base transport whose first connection closes
// closed when the client closes it.
func signalingBase(closed chan struct{}) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, a)
		if err != nil {
			return nil, err
		}
		return &closeSignal{Conn: c, closed: closed}, nil
	}
	return base
}

// closeSignal closes its channel once the client closes the connection.
type closeSignal struct {
	net.Conn
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	err := c.Conn.Close()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return err
}

func TestClassifyContext(t *testing.T) {
	release := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		_ = readRequest(br)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	t.Cleanup(func() { close(release) })
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cancel() }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("x")))
		_, err := c.Do(req)
		checkAttempt(t, err, want{
			stage: retry.StageRequestWritten, kind: retry.KindCanceled,
			is:    []error{context.Canceled},
			isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrUnprocessed},
		})
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("x")))
		_, err := c.Do(req)
		checkAttempt(t, err, want{
			stage: retry.StageRequestWritten, kind: retry.KindDeadline,
			is:    []error{context.DeadlineExceeded},
			isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrUnprocessed},
		})
	})
}

// TestClassifyResetWhileBodyStreams resets the connection after the server
// read the request headers and while the client still streams the body:
// part of the request went out, so it may have reached the server.
func TestClassifyResetWhileBodyStreams(t *testing.T) {
	reset := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		close(reset)
	})
	// The first part fills net/http's write buffer so that the headers go
	// out; the rest is held back until the server has reset the connection.
	body := io.MultiReader(strings.NewReader(strings.Repeat("x", 64<<10)), &afterReader{wait: reset, r: strings.NewReader(strings.Repeat("y", 64<<10))})
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}
	_, err = c.Do(req)
	ae := checkAttempt(t, err, want{
		stage: retry.StageHeadersWritten, kind: retry.KindReset,
		is:    []error{transport.ErrResetBeforeHeaders},
		isNot: []error{transport.ErrUnprocessed, transport.ErrDial},
	})
	if ae.BytesWritten == 0 || ae.BytesRead != 0 {
		t.Errorf("bytes written %d, read %d; want some written, none read", ae.BytesWritten, ae.BytesRead)
	}
}

// afterReader reads from r once wait is closed.
type afterReader struct {
	wait <-chan struct{}
	r    io.Reader
}

func (a *afterReader) Read(p []byte) (int, error) {
	<-a.wait
	return a.r.Read(p)
}
