package transport

import (
	"net/url"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// idleLimit returns the idle limit and the maximum number of requests for
// connections to the backend key. Zero means no limit of ours.
func (t *Transport) idleLimit(key string) (time.Duration, int) {
	l := t.idle.Limit(key)
	return l.Timeout, l.MaxRequests
}

// observeServerClosedIdle records that the backend closed a pooled
// connection after it had been idle for idleFor.
func (t *Transport) observeServerClosedIdle(key string, idleFor time.Duration) {
	t.idle.ObserveClosedIdle(key, idleFor)
}

// observeClosedByLimit records that the idle limit closed a connection.
func (t *Transport) observeClosedByLimit(key string) {}

// IdleLimit returns the effective idle limit for the backend u points at,
// and where it came from.
func (t *Transport) IdleLimit(u *url.URL) idle.Limit {
	return t.idle.Limit(idle.Key(u))
}

// IdleTracker returns the tracker holding the idle limits of this Transport.
func (t *Transport) IdleTracker() *idle.Tracker { return t.idle }
