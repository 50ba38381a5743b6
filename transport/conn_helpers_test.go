package transport

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// connOf returns the tracked connection resp came on.
func connOf(resp *http.Response) *conn {
	return resp.Body.(*attemptBody).a.Load().conn
}

// drainBody reads the whole of resp's body and closes it; a read error
// fails t.
func drainBody(t *testing.T, resp *http.Response) {
	t.Helper()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// getConn sends a GET for url through rt, reads the whole response and
// returns the connection it came on.
func getConn(t *testing.T, rt *Transport, url string) *conn {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	c := connOf(resp)
	drainBody(t, resp)
	return c
}

// closedBy returns who has closed c so far (closedByNobody while open).
func closedBy(c *conn) closeCause {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedBy
}

// awaitClose waits, at most within, until c is closed, and returns who
// closed it: closedByNobody when it was still open at the deadline.
func awaitClose(c *conn, within time.Duration) closeCause {
	var cause closeCause
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cause = closedBy(c); cause != closedByNobody {
			break
		}
	}
	return cause
}

// awaitClosedUnwatched waits, at most within, until c is closed and its
// Transport no longer watches it (a watched close has been measured), and
// returns who closed it; ok is false when that did not happen in time.
func awaitClosedUnwatched(c *conn, within time.Duration) (cause closeCause, ok bool) {
	for deadline := time.Now().Add(within); ; time.Sleep(5 * time.Millisecond) {
		cause = closedBy(c)
		c.t.watches.mu.Lock()
		_, watched := c.t.watches.m[c]
		c.t.watches.mu.Unlock()
		if cause != closedByNobody && !watched {
			return cause, true
		}
		if time.Now().After(deadline) {
			return cause, false
		}
	}
}

// learnedLimit returns rt's limit of key once it is known, waiting at
// most a second for it: the Tracker learns a close in the read loop's
// goroutine, a moment after the connection's state changed.
func learnedLimit(rt *Transport, key string) idle.Limit {
	l := rt.idle.Limit(key)
	for deadline := time.Now().Add(time.Second); l.Timeout == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l = rt.idle.Limit(key)
	}
	return l
}

// idleServer starts a Go server running h that closes idle connections
// at idleTimeout, and reports on the channel it returns when a connection
// of it first went idle (the server's idle clock started). It stops with
// t.
func idleServer(t *testing.T, idleTimeout time.Duration, h http.Handler) (*httptest.Server, <-chan time.Time) {
	t.Helper()
	idleAt := make(chan time.Time, 1)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.IdleTimeout = idleTimeout
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateIdle {
			select {
			case idleAt <- time.Now():
			default:
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, idleAt
}
