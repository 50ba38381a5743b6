package transport

import "time"

// idleLimit returns the idle limit and the maximum number of requests for
// connections to the backend key. Zero means no limit of ours.
func (t *Transport) idleLimit(key string) (time.Duration, int) { return 0, 0 }

// observeServerClosedIdle records that the backend closed a pooled
// connection after it had been idle for idleFor.
func (t *Transport) observeServerClosedIdle(key string, idleFor time.Duration) {}

// observeClosedByLimit records that the idle limit closed a connection.
func (t *Transport) observeClosedByLimit(key string) {}
