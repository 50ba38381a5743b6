package idle

import "time"

// measure is one close of an idle connection that the backend was seen to
// make, watched or of a pooled connection, after d of idle: the
// backend's real idle timeout, measured (see the package doc). A
// stale-shaped failure that says the backend closes sooner than its
// measured closes is kept as one too (see Tracker.ObserveStale).
type measure struct {
	d  time.Duration
	at time.Time
}

// maxMeasures is how many measured closes a backend keeps: enough to see
// a server that closes at varying times.
const maxMeasures = 8

// agreeingMeasures is how many measured closes, seen apart (see
// restartWindow), must agree before the margin replaces the ratio: two
// closes of a server that closes anywhere in a second agree within 50 ms
// one time in ten, three one time in a hundred and fifty.
const agreeingMeasures = 3

// measures are a backend's measured closes, oldest first. Each lives for
// the Tracker's TTL on its own, so that the smallest and the largest age
// alike. A short close is kept for TTL whatever else the backend shows:
// one close shorter than the others may be a restart that closed the one
// pooled connection, or an instance behind a load balancer that closes
// sooner than the others, and only the second is a risk to requests.
type measures struct {
	m [maxMeasures]measure
	n int
	// since is when the closes that count toward agreement began: a
	// detected restart starts them anew.
	since time.Time
	// disagreed is until when agreement does not count: closes kept
	// lay further apart than closeAgreement (a server that closes at
	// varying times agrees by chance now and then), or a stale failure
	// showed the backend closing before its measured closes. Zero: none.
	disagreed time.Time
}

// add records a measured close of d at now. When full it forgets the
// oldest close but the smallest, which stays until it expires. Closes
// that disagree turn agreement off for ttl.
func (ms *measures) add(d time.Duration, now time.Time, ttl time.Duration) {
	if ms.n == maxMeasures {
		drop := 0
		if ms.lowest() == 0 {
			drop = 1
		}
		copy(ms.m[drop:], ms.m[drop+1:])
		ms.n--
	}
	ms.m[ms.n] = measure{d: d, at: now}
	ms.n++
	if lo, hi := ms.bounds(); hi-lo > closeAgreement {
		ms.disagree(now.Add(ttl))
	}
}

// disagree turns agreement off until at, or later if it already is.
func (ms *measures) disagree(until time.Time) {
	if until.After(ms.disagreed) {
		ms.disagreed = until
	}
}

// dropSince forgets the closes measured at t or later.
func (ms *measures) dropSince(t time.Time) {
	n := 0
	for _, m := range ms.m[:ms.n] {
		if m.at.Before(t) {
			ms.m[n] = m
			n++
		}
	}
	clear(ms.m[n:ms.n])
	ms.n = n
}

// expire forgets the closes measured ttl or longer before now, and a
// disagreement that ended, and returns when the next one expires; zero:
// none will.
func (ms *measures) expire(now time.Time, ttl time.Duration) (next time.Time) {
	if !ms.disagreed.IsZero() && !now.Before(ms.disagreed) {
		ms.disagreed = time.Time{}
	}
	next = ms.disagreed
	n := 0
	for _, m := range ms.m[:ms.n] {
		exp := m.at.Add(ttl)
		if !now.Before(exp) {
			continue
		}
		ms.m[n] = m
		n++
		if next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	clear(ms.m[n:ms.n])
	ms.n = n
	return next
}

// lowest returns the index of the smallest close kept, the oldest of
// equals; -1 if none.
func (ms *measures) lowest() int {
	i := -1
	for j, m := range ms.m[:ms.n] {
		if i < 0 || m.d < ms.m[i].d {
			i = j
		}
	}
	return i
}

// lo returns the smallest close kept, and when it was measured; zero if
// none.
func (ms *measures) lo() measure {
	if i := ms.lowest(); i >= 0 {
		return ms.m[i]
	}
	return measure{}
}

// bounds returns the smallest and the largest close kept.
func (ms *measures) bounds() (lo, hi time.Duration) {
	for i, m := range ms.m[:ms.n] {
		if i == 0 {
			lo, hi = m.d, m.d
		}
		lo, hi = min(lo, m.d), max(hi, m.d)
	}
	return lo, hi
}

// agree reports whether the closes kept show a server that closes on time:
// at least agreeingMeasures of them since the last restart, seen apart,
// all of them within closeAgreement of each other, and none that
// disagreed within TTL. spread is how far apart they lie.
func (ms *measures) agree() (spread time.Duration, ok bool) {
	if !ms.disagreed.IsZero() || ms.n < agreeingMeasures {
		return 0, false
	}
	apart := 0
	var last time.Time
	for _, m := range ms.m[:ms.n] {
		if m.at.Before(ms.since) {
			continue
		}
		if apart == 0 || m.at.Sub(last) >= restartWindow {
			apart++
			last = m.at
		}
	}
	lo, hi := ms.bounds()
	spread = hi - lo
	return spread, apart >= agreeingMeasures && spread <= closeAgreement
}
