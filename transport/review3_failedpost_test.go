package transport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/latency"
)

// Hostile review, round 2: the inflated measured close of
// TestReview3IdleStartInflatesMeasuredClose, end to end. A Go server
// (IdleTimeout 1 s, no advertisement) 40 ms away; one response whose
// headers come 600 ms before the handler is done teaches the Tracker a
// close of about 1.6 s, so a limit of about 1.28 s. A later connection,
// released after a fast response, is then reused by a POST at 950 ms of
// idle: below the learned limit, but the server closes at 1 s of its own
// idle, which began a one-way trip before the release, so the POST
// reaches a closed connection and fails (its bytes were written: no
// retry). Safe: the close measured from the release (or from the last
// data read), about 1 s, a limit of 800 ms, and the POST on a new
// connection.
func TestReview3InflatedCloseFailsPOST(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	const oneWay = 40 * time.Millisecond
	var posts atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		if r.URL.Path == "/slow" {
			_, _ = io.WriteString(w, "head")
			w.(http.Flusher).Flush()
			time.Sleep(600 * time.Millisecond) // the handler's work: the case itself
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	relay, err := latency.Start(srv.Listener.Addr().String(), oneWay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	base := "http://" + relay.Addr()
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)

	get := func(path string) *conn {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Body.(*attemptBody).a.Load().conn
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c
	}
	waitClosed := func(c *conn) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			c.mu.Lock()
			closed := c.state == connClosed
			c.mu.Unlock()
			rt.watches.mu.Lock()
			_, watched := rt.watches.m[c]
			rt.watches.mu.Unlock()
			if closed && !watched {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the connection was never closed")
			}
		}
	}
	// Learn: the slow response's connection, closed by the server.
	c := get("/slow")
	waitClosed(c)
	l := rt.idle.Limit(c.key)
	t.Logf("learned limit %v (%s)", l.Timeout, l.Source)

	// A fast response on a new connection, then a POST at 950 ms of idle.
	c2 := get("/")
	if c2 == c {
		t.Fatal("the closed connection was reused")
	}
	time.Sleep(950 * time.Millisecond) // the idle time: the case itself
	req, _ := http.NewRequest(http.MethodPost, base+"/post", strings.NewReader("payload"))
	resp, err := rt.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c2.mu.Lock()
	cause := c2.closedBy
	c2.mu.Unlock()
	t.Logf("POST at 950 ms of idle: err %v; first connection closed by %d; POSTs served %d", err, cause, posts.Load())
	if err != nil {
		t.Errorf("the POST failed on a connection reused under a limit (%v) above the server's real close (1 s): %v", l.Timeout, err)
	}
}
