package idle

import "time"

// staleAfterWrite is how soon after the request was written a failure must
// come to count as a stale connection's (see [Tracker.ObserveStale]). A
// connection the backend closed while it sat idle fails the request within
// one round trip of the write: the backend's kernel answers the request's
// bytes with a reset, or its FIN is already there to read. A failure that
// comes later came from a backend that took the request and worked on it,
// which says nothing about its idle timeout. 200 ms covers round trips
// across a continent, with room for scheduling on a busy client.
const staleAfterWrite = 200 * time.Millisecond

// confirmWindow is how long a single stale-shaped failure stands on its
// own: it lowers the limit for at most that long, and a second one within
// it confirms the first.
const confirmWindow = time.Minute

// stale is what stale-shaped failures taught about a backend. One failure
// is weak evidence: a backend that resets one reused connection for a
// reason of its own looks the same as one that closed it for being idle.
// So a single failure lowers the limit only for confirmWindow, and not at
// all when the backend's other evidence contradicts it (see
// Tracker.contradicts); a second within confirmWindow confirms it for the
// Tracker's TTL. A reuse that succeeded after idling as long refutes it.
type stale struct {
	first     observation // unconfirmed; lives for confirmWindow
	confirmed observation // lives for the TTL
}

// observe records a stale-shaped failure after idle d at now.
func (s *stale) observe(d time.Duration, now time.Time, ttl time.Duration) {
	if s.first.live(now, confirmWindow) {
		// Two failures within a minute: the smaller bound holds for both
		// if both are what they seem.
		s.confirmed.lower(min(d, s.first.d), now, ttl)
		s.first = observation{}
		return
	}
	s.first = observation{d: d, at: now}
}

// refute forgets the bounds that a reuse which succeeded after idle d
// disproves: the backend's timeout is longer than d now.
func (s *stale) refute(d time.Duration) {
	if s.first.d > 0 && d >= s.first.d {
		s.first = observation{}
	}
	if s.confirmed.d > 0 && d >= s.confirmed.d {
		s.confirmed = observation{}
	}
}

// refutedBy reports whether refute(d) would change anything.
func (s *stale) refutedBy(d time.Duration) bool {
	return (s.first.d > 0 && d >= s.first.d) || (s.confirmed.d > 0 && d >= s.confirmed.d)
}
