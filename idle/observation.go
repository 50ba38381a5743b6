package idle

import "time"

// observation is a bound on a backend's idle timeout, learned at a moment
// and valid for a time (the Tracker's TTL, or less).
type observation struct {
	d  time.Duration // zero: none
	at time.Time     // when d was last lowered, raised or confirmed
}

// lower records an upper bound of d seen at now: the smaller bound wins,
// unless the current one has expired.
func (o *observation) lower(d time.Duration, now time.Time, ttl time.Duration) {
	if o.d == 0 || d < o.d || !now.Before(o.at.Add(ttl)) {
		o.d = d
	}
	o.at = now
}

// raise records a lower bound of d seen at now: the larger bound wins,
// unless the current one has expired. A bound at least half the current
// one keeps it fresh: a backend whose connections keep being reused after
// similar idle times still proves what it proved.
func (o *observation) raise(d time.Duration, now time.Time, ttl time.Duration) {
	switch {
	case o.d == 0 || d > o.d || !now.Before(o.at.Add(ttl)):
		o.d, o.at = d, now
	case d >= o.d/2:
		o.at = now
	}
}

// live reports whether the observation holds at now, ttl after it was made.
func (o *observation) live(now time.Time, ttl time.Duration) bool {
	return o.d > 0 && now.Before(o.at.Add(ttl))
}

// expire forgets the bound once ttl has passed and returns when it will
// expire (zero when there is none).
func (o *observation) expire(now time.Time, ttl time.Duration) time.Time {
	if o.d == 0 {
		return time.Time{}
	}
	exp := o.at.Add(ttl)
	if !now.Before(exp) {
		*o = observation{}
		return time.Time{}
	}
	return exp
}
