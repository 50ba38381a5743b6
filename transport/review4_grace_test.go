package transport

import (
	"net/url"
	"testing"
	"time"
)

// TestReview4RetireGraceFromRelease: a connection past its age is closed
// after retireGrace of idle, a grace that exists so that a request net/http
// handed the released connection to reaches its GotConn (acquire) before
// the close. The grace must count from the release: counted from
// idleStart (the response's first data), a caller that read a buffered
// body for longer than the grace releases the connection with its retire
// time already past, and the timer closes it at once, under a request
// net/http may already have handed it to.
func TestReview4RetireGraceFromRelease(t *testing.T) {
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)
	u, _ := url.Parse("http://backend.test:8080/")
	c, _ := timerConn(t, rt, u)
	gen, _ := c.acquire(u, c, 0)
	c.aged() // past its age limit
	// The response's first data arrived 2 s ago; the caller read the
	// buffered body slowly and releases only now.
	c.respAt.Store(time.Now().Add(-2 * time.Second).UnixNano())
	released := time.Now()
	c.release(gen)
	state, at, _, _ := c.snapshot()
	if state != connIdle {
		t.Fatalf("released past its age after a slow read: state %d (closed by %d) at once, want idle for the grace %v from the release", state, c.closedBy, retireGrace)
	}
	if at.Before(released.Add(retireGrace)) {
		t.Fatalf("retire timer %v after the release, want at least the grace %v", at.Sub(released), retireGrace)
	}
}
