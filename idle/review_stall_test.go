package idle_test

import (
	"testing"
	"time"
)

// F3, still open for one close: Apache advertises timeout=5 and closes at
// 5 s; the first close the client measures comes while it is stalled for
// 1.6 s (a VM paused, a container throttled, swap): 6.6 s. A measured
// close replaces the advertisement, and alone it is scaled: 5.28 s, past
// the 5 s Apache closes at, for TTL or until a close at 5 s is seen (a
// race itself). No server the package knows closes more than a second
// past its advertisement (Node.js), so a close further past it than that
// is a stall, not the server.
func TestHostileStalledCloseLiftsTheLimitPastTheAdvertisement(t *testing.T) {
	const key = "https://apache:443"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveKeepAlive(key, []string{"timeout=5, max=100"})
	tr.ObserveClosedIdle(key, 6600*ms)
	if l := tr.Limit(key); l.Timeout >= 5*s {
		t.Fatalf("limit %v from %v: the backend advertises timeout=5", l.Timeout, l.Source)
	}
}
