//go:build linux

package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/transport"
)

// TestReviewResentAttemptNotUnprocessed: FINDING: net/http resends a
// replayable request by itself within one RoundTrip when a reused
// connection fails after the request was written (a reset before the
// first response byte). When that resend then fails on a new connection
// before its first byte, the attempt's progress starts over on the new
// connection and says nothing_written: the attempt is reported
// Unprocessed (errors.Is ErrUnprocessed) though the backend read it, and
// ran it, on the first connection.
func TestReviewResentAttemptNotUnprocessed(t *testing.T) {
	var (
		accepted atomic.Int32
		dialed   = make(chan struct{})
		reset    = make(chan struct{})
		mu       sync.Mutex
		runs     = map[string]int{}
	)
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		switch accepted.Add(1) {
		case 1:
			for n := 0; ; n++ {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				mu.Lock()
				runs[req.URL.Path]++
				mu.Unlock()
				if n == 0 {
					if _, err := io.WriteString(c, okResponse); err != nil {
						return
					}
					continue
				}
				// Ran it; the response is lost.
				_ = c.(*net.TCPConn).SetLinger(0)
				return
			}
		default:
			select {
			case <-dialed:
			case <-time.After(10 * time.Second):
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			close(reset)
		}
	})
	var dials atomic.Int32
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil || dials.Add(1) == 1 {
			return c, err
		}
		close(dialed)
		select {
		case <-reset:
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
	tr := newTransport(t, transport.WithoutRetry(), transport.WithBase(base))
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		return tr.RoundTrip(req)
	}
	resp, err := get("/warm")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	_, err = get("/order")
	if err == nil {
		t.Fatal("the scenario needs the resend to fail")
	}
	mu.Lock()
	ran := runs["/order"]
	mu.Unlock()
	if d := dials.Load(); ran != 1 || d != 2 {
		t.Fatalf("the backend ran the request %d times over %d dials; the scenario needs one run and net/http's resend on a second connection (%v)", ran, d, err)
	}
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *AttemptError", err)
	}
	if ae.Unprocessed() || errors.Is(err, transport.ErrUnprocessed) {
		t.Fatalf("the attempt is reported unprocessed (stage %v, %d bytes written) though the backend ran it: %v", ae.Stage, ae.BytesWritten, err)
	}
}
