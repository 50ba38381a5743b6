package transport

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// notifyConn closes closed when it is closed.
type notifyConn struct {
	net.Conn
	once   sync.Once
	closed chan time.Time
}

func (c *notifyConn) Close() error {
	c.once.Do(func() { c.closed <- time.Now() })
	return c.Conn.Close()
}

// timerConn returns a tracked connection of rt to u over a pipe, and the
// channel that tells when the idle limit closed it.
func timerConn(t *testing.T, rt *Transport, u *url.URL) (*conn, chan time.Time) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	nc := &notifyConn{Conn: client, closed: make(chan time.Time, 1)}
	c := newConn(nc, rt, u.Host, 0)
	t.Cleanup(func() {
		c.mu.Lock()
		c.endLocked()
		c.mu.Unlock()
	})
	return c, nc.closed
}

func (c *conn) snapshot() (connState, time.Time, time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.timerAt, c.idleSince, c.limit
}

// TestReview2LazyIdleTimer: the idle timer left running across requests
// still closes an idle connection at its limit of the current idle period,
// never earlier and never under a request: a limit lowered while the timer
// is set for later (it is set again), a limit raised while the timer is
// set for earlier (its firing sets it again), a firing while the
// connection is busy (nothing, and the release sets it).
func TestReview2LazyIdleTimer(t *testing.T) {
	tr := idle.NewTracker()
	rt := New(WithIdleTracker(tr))
	t.Cleanup(rt.CloseIdleConnections)
	u, _ := url.Parse("http://backend.test:8080/")
	key := idle.Key(u)
	advertise := func(secs string) time.Duration {
		tr.ObserveKeepAlive(key, []string{"timeout=" + secs})
		return tr.Limit(key).Timeout
	}
	long := advertise("60")
	c, closed := timerConn(t, rt, u)

	gen, _ := c.acquire(u, c, 0)
	c.release(gen)
	if _, at, since, _ := c.snapshot(); !at.Equal(since.Add(long)) {
		t.Fatalf("timer at %v after the idle start, want the limit %v", at.Sub(since), long)
	}

	gen, _ = c.acquire(u, c, 0)
	short := advertise("1")
	if short >= long {
		t.Fatalf("the lowered limit is %v, the first %v: the test needs it lower", short, long)
	}
	// Lowered while the timer is set for later: the release sets it sooner.
	c.release(gen)
	if _, at, since, _ := c.snapshot(); !at.Equal(since.Add(short)) {
		t.Fatalf("after a lowered limit the timer is at %v after the idle start, want %v", at.Sub(since), short)
	}

	// A firing while busy, even past the close time, does nothing.
	gen, _ = c.acquire(u, c, 0)
	c.mu.Lock()
	c.idleSince = time.Now().Add(-time.Hour)
	c.mu.Unlock()
	c.expire()
	if state, at, _, _ := c.snapshot(); state != connBusy || !at.IsZero() {
		t.Fatalf("a firing while busy left state %d and the timer at %v; want busy and no timer", state, at)
	}
	select {
	case <-closed:
		t.Fatal("the idle timer closed a busy connection")
	default:
	}

	// Raised while the timer is set for earlier: its firing must not
	// close, and sets the timer for the rest.
	c.release(gen)
	_, early, _, _ := c.snapshot()
	gen, _ = c.acquire(u, c, 0)
	long = advertise("60")
	c.release(gen)
	if _, at, since, _ := c.snapshot(); !at.Equal(early) || !at.Before(since.Add(long)) {
		t.Fatalf("timer at %v, want left at the earlier %v", at, early)
	}
	c.expire() // the early firing
	if state, at, since, _ := c.snapshot(); state != connIdle || !at.Equal(since.Add(long)) {
		t.Fatalf("after the early firing: state %d, timer at %v after the idle start; want idle and %v", state, at.Sub(since), long)
	}
	select {
	case <-closed:
		t.Fatal("an early firing closed the connection before its raised limit")
	default:
	}

	// Lowered again: the connection is closed at the short limit, not
	// the long one.
	gen, _ = c.acquire(u, c, 0)
	short = advertise("1")
	c.release(gen)
	_, _, since, _ := c.snapshot()
	select {
	case at := <-closed:
		if idle := at.Sub(since); idle < short {
			t.Errorf("closed after %v of idle, before its limit %v", idle, short)
		}
	case <-time.After(short + 10*time.Second):
		t.Fatalf("not closed %v after its limit %v", short+10*time.Second, short)
	}
	if c.closedBy != closedByLimit {
		t.Errorf("closed by %d, want the limit", c.closedBy)
	}
}
