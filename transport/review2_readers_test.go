package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
)

// stepBody is a base response body whose reads return what the test
// queues, one result per read.
type stepBody struct {
	results chan error
}

func (b *stepBody) Read([]byte) (int, error) { return 0, <-b.results }
func (b *stepBody) Close() error             { return nil }

// pausingContext is a request context whose first Err call waits until
// the test lets it go on: it holds a failing body read inside fail.
type pausingContext struct {
	context.Context
	once    sync.Once
	entered chan struct{}
	proceed chan struct{}
}

func (c *pausingContext) Err() error {
	c.once.Do(func() {
		close(c.entered)
		<-c.proceed
	})
	return c.Context.Err()
}

// TestReview2FailingReadHoldsAttempt: FINDING: a body read that fails
// classifies the failure on the attempt it loaded, while another read of
// the same body may meet io.EOF, finish the attempt and reuse it. With
// net/http that is a caller reading from two goroutines and closing: one
// read gets the body's end, the read that follows the Close gets
// "http: read on closed response body". The failing read then worked on
// an attempt that was zeroed or another request's: a nil dereference, or
// a failure recorded on another request. An attempt must not be reused
// while a failing read still works on it.
func TestReview2FailingReadHoldsAttempt(t *testing.T) {
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)
	pc := &pausingContext{Context: context.Background(), entered: make(chan struct{}), proceed: make(chan struct{})}
	req, _ := http.NewRequestWithContext(pc, http.MethodGet, "http://127.0.0.1:1/", nil)

	// An attempt that meets every condition of recycle: one tracked
	// HTTP/1 connection, its request written once, no attempt timeout.
	a := rt.newAttemptTrace()
	a.req = req
	a.link = new(attemptLink)
	a.tel = rt.tel.Start(req, 1)
	a.conn = &conn{t: rt, state: connBusy, gen: 1}
	a.conn.maxLeft.Store(-1)
	a.gen, a.gotConns, a.gotConn, a.gotHeader = 1, 1, true, true
	a.writes.Store(1)
	t.Cleanup(func() {
		a.conn.mu.Lock()
		a.conn.endLocked()
		a.conn.mu.Unlock()
	})
	base := &stepBody{results: make(chan error, 2)}
	body := a.link.body.wrap(base, a)

	closedErr := errors.New("http: read on closed response body")
	base.results <- closedErr
	failed := make(chan error, 1)
	go func() {
		_, err := body.Read(make([]byte, 8))
		failed <- err
	}()
	<-pc.entered // the failing read is classifying on the attempt
	base.results <- io.EOF
	if _, err := body.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("second read: %v, want io.EOF", err)
	}
	close(pc.proceed)
	err := <-failed
	var ae *AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("the failing read returned %v, want an *AttemptError", err)
	}
	if a.req != req {
		t.Errorf("the attempt was reused while a failing read still worked on it")
	}
}
