package idle

import "time"

// observation is an upper bound on a backend's idle timeout, learned at a
// moment and valid for the Tracker's TTL.
type observation struct {
	d  time.Duration // zero: none
	at time.Time     // when d was last lowered or confirmed
}

// lower records a bound of d seen at now: the smaller bound wins, unless
// the current one has expired.
func (o *observation) lower(d time.Duration, now time.Time, ttl time.Duration) {
	if o.d == 0 || d < o.d || !now.Before(o.at.Add(ttl)) {
		o.d = d
	}
	o.at = now
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
