package transport

import (
	"net/url"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// idleLimit returns the idle limit for connections to the backend key.
// Zero means no limit of ours.
func (t *Transport) idleLimit(key string) time.Duration {
	return t.idle.Limit(key).Timeout
}

// observeServerClosedIdle records that the backend closed a pooled
// connection after it had been idle for idleFor.
func (t *Transport) observeServerClosedIdle(key string, idleFor time.Duration) {
	t.tel.connClosed(key, false)
	t.learn(key, func() { t.idle.ObserveClosedIdle(key, idleFor) })
}

// observeStale records that a reused connection to the backend key failed
// as one the backend had closed after it had been idle for idleFor.
func (t *Transport) observeStale(key string, idleFor time.Duration) {
	t.learn(key, func() { t.idle.ObserveStale(key, idleFor) })
}

// learn runs observe, and reports the backend's limit when it changed and
// telemetry wants to know.
func (t *Transport) learn(key string, observe func()) {
	if !t.tel.learnsLimits() {
		observe()
		return
	}
	before := t.idle.Limit(key)
	observe()
	t.tel.limitLearned(key, before, t.idle.Limit(key))
}

// observeKeepAlive learns from a response's Keep-Alive header values.
func (t *Transport) observeKeepAlive(key string, values []string) {
	t.learn(key, func() { t.idle.ObserveKeepAlive(key, values) })
}

// observeClosedByLimit records that the idle limit closed a connection.
func (t *Transport) observeClosedByLimit(key string) { t.tel.connClosed(key, true) }

// IdleLimit returns the effective idle limit for the backend u points at,
// and where it came from. Limits belong to the peer a connection leads to:
// plain-http requests sent through an HTTP proxy ride connections to the
// proxy, whose limit is the proxy URL's; https requests through a proxy
// ride tunnels to their target.
func (t *Transport) IdleLimit(u *url.URL) idle.Limit {
	return t.idle.Limit(idle.Key(u))
}
