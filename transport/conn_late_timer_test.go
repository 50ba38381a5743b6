package transport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLateIdleTimerConnectionNotReused: a connection whose idle timer ran
// late, so that a request takes it past its limit, is closed before the
// request writes a byte to it, and the request (a POST) goes out once on
// a new connection: a busy machine's late timer costs a dial, never a
// request.
func TestLateIdleTimerConnectionNotReused(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = time.Minute
	srv.Start()
	t.Cleanup(srv.Close)
	var dials atomic.Int32
	const limit = 100 * time.Millisecond
	rt := New(WithBase(countingBase(&dials)), WithBackendIdleTimeout(limit), WithIdleRatio(1))
	t.Cleanup(rt.CloseIdleConnections)

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Body.(*attemptBody).a.Load().conn
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The timer runs late: here, not at all.
	c.mu.Lock()
	c.stopTimerLocked()
	c.mu.Unlock()
	time.Sleep(limit + 50*time.Millisecond) // the idle time under test

	post, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("once"))
	resp, err = rt.RoundTrip(post)
	if err != nil {
		t.Fatalf("POST after a late timer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.mu.Lock()
	cause := c.closedBy
	c.mu.Unlock()
	if cause != closedByLimit {
		t.Errorf("the late connection was closed by %d, want by its limit (%d)", cause, closedByLimit)
	}
	if n := served.Load(); n != 2 {
		t.Errorf("the server ran %d requests, want 2", n)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2: the late connection is not to carry the POST", n)
	}
}
