package idle

import "time"

// ObserveKeepAlive learns from the Keep-Alive header values of an HTTP/1.1
// response that keeps its connection open (not one with Connection:
// close, which Apache sends without Keep-Alive on a connection's last
// request). Pass every response that has the header; pass one without it,
// with no values, only when its request asked (see
// [Tracker.AskKeepAlive]): then the backend has withdrawn any earlier
// advertisement, or never made one. It parses only when the header differs
// from the last one seen.
//
// Like the other Observe methods, it is called by package transport for
// its own connections, and by a caller who shares the Tracker with a
// client of their own (see "Feeding a Tracker" in the package doc).
func (t *Tracker) ObserveKeepAlive(key string, values []string) {
	now := t.clock()
	t.mu.RLock()
	b := t.backends[key]
	same := b != nil && b.sameHeader(values)
	if same {
		b.used.Store(now.UnixNano())
		b.answered.Store(now.UnixNano())
	}
	t.mu.RUnlock()
	if same {
		return
	}
	ka := ParseKeepAlive(values)
	raw := ""
	if len(values) == 1 {
		raw = values[0]
	}
	t.update(key, now, true, func(b *backend) {
		b.advertised, b.rawHeader = ka, raw
		b.answered.Store(now.UnixNano())
	})
}

// sameHeader reports whether values say what b already learned from them.
func (b *backend) sameHeader(values []string) bool {
	switch len(values) {
	case 0:
		return b.advertised == KeepAlive{}
	case 1:
		return values[0] != "" && values[0] == b.rawHeader
	}
	return false
}

// ObserveClosedIdle records that the backend closed a connection that had
// been idle for idleFor, seen as it happened (a pending read on the idle
// connection returned): the backend's timeout is at most that, and, as
// nothing raced that close, it measures the real one, like a watched
// close ([Tracker.ObserveWatchedClose]), and sets the limit the same way.
// Closes that reveal a restart (closes within 50 ms of each other after
// idle times far apart) are ignored, and undo what the same restart's
// first closes taught.
//
// A close with zero idleFor, as the response ended, teaches no timeout.
// It reveals a restart only with a close after a real idle time within
// 50 ms of it (a backend that restarts right after a response closes that
// connection with the idle ones), and starts no run of closes of its own,
// so that a backend that closes connections after their responses
// without saying so cannot hide its idle closes.
//
// Package transport calls it; so may a caller feeding a shared Tracker.
func (t *Tracker) ObserveClosedIdle(key string, idleFor time.Duration) {
	if idleFor < 0 {
		return
	}
	now := t.clock()
	t.update(key, now, false, func(b *backend) {
		restart, undoSince := false, time.Time{}
		if idleFor == 0 {
			restart, undoSince = b.closes.endedClose(now)
		} else {
			restart, undoSince = b.closes.restart(now, idleFor)
		}
		if restart {
			if !undoSince.IsZero() {
				// The restart's first closes counted as measures.
				b.measures.dropSince(undoSince)
			}
			// The closes after it must agree anew.
			b.measures.since = now
			return
		}
		if idleFor > 0 {
			b.closes.seen(now, idleFor)
			b.measures.add(idleFor, now, t.ttl())
		}
	})
}

// ObserveWatchedClose records that the backend closed a connection that
// the client had retired at its idle limit and kept open, unused, only to
// see when the backend would close it: after idleFor of idle. Nothing can
// have raced that close, so it measures the backend's real idle timeout,
// where an advertised one is only a lower bound (Node.js closes a second
// after what it advertises). While it holds (TTL), it replaces the
// advertised timeout. The smallest measured close (watched, or
// [Tracker.ObserveClosedIdle]) kept sets the limit: scaled (by Ratio, or
// less the round trip when that is shorter) until three seen apart agree
// within 50 ms, and while any lie further apart; then less a margin for
// the round trip and the client's late timers and goroutines (50 ms,
// plus a 64th of the close for coarse server timers, plus the spread of
// the closes, plus the round trip). The package doc says which closes are
// kept, and how long. Configured timeouts and stale failures still cap
// it.
//
// Package transport calls it for the connections it retires; so may a
// caller feeding a shared Tracker, with the same care: only for a
// connection that could carry no request.
func (t *Tracker) ObserveWatchedClose(key string, idleFor time.Duration) {
	if idleFor <= 0 {
		return
	}
	now := t.clock()
	t.update(key, now, false, func(b *backend) {
		b.measures.add(idleFor, now, t.ttl())
	})
}

// ObserveStale records a request that failed on a reused HTTP/1
// connection, idle for idleFor before the request, without a byte of
// response, afterWrite after the request had been written (zero or less
// when the write itself failed): the shape of a connection the backend
// closed while it sat idle. The caller checks the first three facts; the
// Tracker learns only when afterWrite is at most 200 ms, since a stale
// connection fails within a round trip of the write, while a later failure
// came from a backend that took the request and worked on it.
//
// Even so, one such failure may be a reset for a reason of the backend's
// own. It lowers the limit for a minute at most, and not at all when it
// is far below the backend's other evidence: when idleFor is under the
// advertised timeout, or under half the idle time after which the backend
// was seen to close a connection, or the limit it would set is shorter
// than an idle time after which a reuse succeeded ([Tracker.ObserveReuse]).
// In that last case a failure more than 50 ms past every such reuse (less
// lies within the spread of the reuses themselves) still caps the limit
// a margin short of the longest reuse that worked (50 ms and a 64th of
// it): the backend may close just past them, and reusing a little less
// long than reuses have worked is safe either way. A second one within
// the minute confirms it, for TTL, at the smaller of the two idle times;
// a reuse that succeeds after idling as long refutes it.
//
// A failure after at least half the smallest measured close is no stray:
// the backend closes sooner than its measured closes showed. It counts
// as a measured close, and their agreement as chance, for TTL (see the
// package doc).
//
// Package transport calls it; so may a caller feeding a shared Tracker.
func (t *Tracker) ObserveStale(key string, idleFor, afterWrite time.Duration) {
	if idleFor <= 0 || afterWrite > staleAfterWrite {
		return
	}
	now := t.clock()
	t.update(key, now, false, func(b *backend) {
		b.stale.observe(idleFor, now, t.ttl())
		if lo := b.measures.lo().d; lo > 0 && idleFor >= lo/2 {
			// Not a stray reset far below what the backend was seen
			// to do, but a close sooner than its measured closes: it
			// closes at times they did not show (a sweep, a coarse
			// timer). The failure counts as a close, and the closes'
			// agreement as chance, for TTL.
			b.measures.add(idleFor, now, t.ttl())
			b.measures.disagree(now.Add(t.ttl()))
		}
	})
}

// ObserveReuse records that a request on a reused HTTP/1 connection, idle
// for idleFor before it, got a response: the backend's timeout is longer
// than idleFor. That keeps a single stale-shaped failure from lowering the
// limit below idle times that work (see [Tracker.ObserveStale]). It counts
// as a request to the backend.
//
// Package transport calls it; so may a caller feeding a shared Tracker.
func (t *Tracker) ObserveReuse(key string, idleFor time.Duration) {
	if idleFor <= 0 {
		return
	}
	now := t.clock()
	ttl := t.ttl()
	t.mu.RLock()
	b := t.backends[key]
	known := b != nil && idleFor <= b.reuse.d &&
		(now.Sub(b.reuse.at) < ttl/2 || idleFor < b.reuse.d/2) && !b.stale.refutedBy(idleFor)
	if b != nil {
		b.used.Store(now.UnixNano())
	}
	t.mu.RUnlock()
	if known {
		return
	}
	t.update(key, now, true, func(b *backend) {
		b.reuse.raise(idleFor, now, ttl)
		b.stale.refute(idleFor)
	})
}
