package transport

import (
	"io"
	"net/http"
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
	u := goServer(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
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
	})
	relay, err := latency.Start(u.Host, oneWay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	base := "http://" + relay.Addr()
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)

	// Learn: the slow response's connection, closed by the server.
	c := getConn(t, rt, base+"/slow")
	if _, ok := awaitClosedUnwatched(c, 5*time.Second); !ok {
		t.Fatal("the connection was never closed")
	}
	l := rt.idle.Limit(c.key)
	t.Logf("learned limit %v (%s)", l.Timeout, l.Source)

	// A fast response on a new connection, then a POST at 950 ms of idle.
	c2 := getConn(t, rt, base+"/")
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
	cause := closedBy(c2)
	t.Logf("POST at 950 ms of idle: err %v; first connection closed by %d; POSTs served %d", err, cause, posts.Load())
	if err != nil {
		t.Errorf("the POST failed on a connection reused under a limit (%v) above the server's real close (1 s): %v", l.Timeout, err)
	}
}
