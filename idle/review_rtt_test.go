package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// A first connect that took a second or more (a SYN retransmitted, a slow
// resolver, a TLS handshake far away) is capped at 1 s and counted three
// times: a round-trip margin of exactly 3 s. A backend that advertises
// timeout=3 (or is configured at 3 s, or measured once at 3 s) then gets
// scaled(3s) = min(2.4s, 3s-3s) = 0, and a zero Timeout means "no limit
// known": the pool keeps the connection until the base transport's own
// idle timeout, long past the backend's close.
func TestHostileRoundTripZeroesTheLimit(t *testing.T) {
	const key = "http://far:80"
	for _, tc := range []struct {
		name string
		feed func(tr *idle.Tracker)
	}{
		{"advertised", func(tr *idle.Tracker) { tr.ObserveKeepAlive(key, []string{"timeout=3"}) }},
		{"configured", func(tr *idle.Tracker) { tr.Configure(key, 3*s) }},
		{"one close measured", func(tr *idle.Tracker) { tr.ObserveClosedIdle(key, 3*s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			tc.feed(tr)
			tr.ObserveConnect(key, 1200*ms) // capped at 1 s: margin 1 s + 4 x 0.5 s
			l := tr.Limit(key)
			if l.Timeout <= 0 || l.Timeout >= 3*s {
				t.Fatalf("limit %v from %v: the backend closes at 3 s, want a limit in (0, 3s) (at least the floor)", l.Timeout, l.Source)
			}
		})
	}
}

// With Floor set to zero (the doc allows it: "Floor and Ceiling clamp"),
// a round trip longer than the bound gives a negative limit, clamped to
// zero: "no limit".
func TestHostileRoundTripNegativeLimitWithZeroFloor(t *testing.T) {
	const key = "http://far:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.Floor = 0
	tr.ObserveKeepAlive(key, []string{"timeout=2"})
	tr.ObserveConnect(key, time.Second)
	if l := tr.Limit(key); l.Timeout <= 0 {
		t.Fatalf("limit %v from %v with Floor 0: want a positive limit", l.Timeout, l.Source)
	}
}
