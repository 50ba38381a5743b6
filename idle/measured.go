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

// maxMeasures is how many measured closes a backend keeps, the newest:
// enough to see a server that closes at varying times, and few enough
// that a server that raised its timeout is believed after as many closes.
const maxMeasures = 8

// agreeingMeasures is how many measured closes, seen apart (see
// restartWindow), must agree before the margin replaces the ratio: two
// closes of a server that closes anywhere in a second agree within 50 ms
// one time in ten, three one time in a hundred and fifty.
const agreeingMeasures = 3

// measures are a backend's measured closes, oldest first. Each lives for
// the Tracker's TTL on its own, so that the smallest and the largest age
// alike; one that is doubtful (see doubtful) lives for confirmWindow only.
type measures struct {
	m [maxMeasures]measure
	n int
	// since is when the closes that count toward agreement began: a
	// detected restart starts them anew.
	since time.Time
	// disagreed is until when agreement does not count: a stale failure
	// showed the backend closing before its measured closes.
	disagreed time.Time
}

// add records a measured close of d at now, forgetting the oldest when
// full.
func (ms *measures) add(d time.Duration, now time.Time) {
	if ms.n == maxMeasures {
		copy(ms.m[:], ms.m[1:])
		ms.n--
	}
	ms.m[ms.n] = measure{d: d, at: now}
	ms.n++
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

// doubtful reports whether close i stands alone against the backend's
// other evidence: no other close, seen apart from it, lies within a factor
// of two of it, while another close or the advertised timeout adv is more
// than twice as long. That is the shape of a restart that closed one
// pooled connection, or of a burst of closes too close together to tell
// apart from one (see restartWindow). It then lowers the limit for
// confirmWindow only, as an unconfirmed stale failure does.
func (ms *measures) doubtful(i int, adv time.Duration) bool {
	mi := ms.m[i]
	against := adv > 2*mi.d
	for j, mj := range ms.m[:ms.n] {
		if j == i {
			continue
		}
		if absDiff(mi.at.Sub(mj.at), 0) >= restartWindow && mj.d <= 2*mi.d && mi.d <= 2*mj.d {
			return false
		}
		if mj.d > 2*mi.d {
			against = true
		}
	}
	return against
}

// expire forgets the closes that expired at now, each TTL after it was
// measured or confirmWindow when it is doubtful, and returns when the next
// one expires; zero: none will.
func (ms *measures) expire(now time.Time, ttl, adv time.Duration) (next time.Time) {
	if !ms.disagreed.IsZero() && !now.Before(ms.disagreed) {
		ms.disagreed = time.Time{}
	}
	next = ms.disagreed
	for {
		dropped := false
		for i := 0; i < ms.n; i++ {
			if now.Before(ms.expiry(i, ttl, adv)) {
				continue
			}
			copy(ms.m[i:], ms.m[i+1:ms.n])
			ms.n--
			ms.m[ms.n] = measure{}
			dropped = true
			break
		}
		if !dropped {
			break
		}
	}
	for i := range ms.n {
		if exp := ms.expiry(i, ttl, adv); next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	return next
}

// expiry returns when close i expires: TTL after it was measured, or
// confirmWindow when it is doubtful.
func (ms *measures) expiry(i int, ttl, adv time.Duration) time.Time {
	if ms.doubtful(i, adv) {
		ttl = min(ttl, confirmWindow)
	}
	return ms.m[i].at.Add(ttl)
}

// lowest returns the index of the smallest close kept; -1 if none.
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

// agree reports whether the closes kept show a server that closes on time:
// at least agreeingMeasures of them since the last restart, seen apart,
// and all of them within closeAgreement of each other. spread is how far
// apart they lie.
func (ms *measures) agree() (spread time.Duration, ok bool) {
	if !ms.disagreed.IsZero() || ms.n < agreeingMeasures {
		return 0, false
	}
	lo, hi := ms.m[0].d, ms.m[0].d
	apart := 0
	var last time.Time
	for _, m := range ms.m[:ms.n] {
		lo, hi = min(lo, m.d), max(hi, m.d)
		if m.at.Before(ms.since) {
			continue
		}
		if apart == 0 || m.at.Sub(last) >= restartWindow {
			apart++
			last = m.at
		}
	}
	spread = hi - lo
	return spread, apart >= agreeingMeasures && spread <= closeAgreement
}
