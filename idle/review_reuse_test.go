package idle_test

import (
	"testing"
	"time"
)

// A busy backend: reuses after 40 ms of idle worked, then one stray
// stale-shaped failure after 45 ms. The failure lies past every reuse but
// too close to them, so compute caps the limit at the longest reuse less
// closeMargin, clamped at zero: 40 ms - 50.6 ms gives 0, and a zero
// Timeout means "no limit", which drops the configured 10 s limit (and
// the floor) for the minute the failure lives.
func TestHostileReuseCapZeroesTheLimit(t *testing.T) {
	const key = "http://busy:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.Configure(key, 10*s)
	tr.ObserveReuse(key, 40*ms)
	tr.ObserveStale(key, 45*ms, 0)
	if l := tr.Limit(key); l.Timeout <= 0 || l.Timeout > 8*s {
		t.Fatalf("limit %v from %v: the backend is configured at 10 s", l.Timeout, l.Source)
	}
}
