package idle_test

import (
	"testing"
	"time"
)

// A mixed pool behind an L4 load balancer: instance A closes idle
// connections at 5 s, instance B at 60 s; neither advertises (Go's
// http.Server). Over TLS no retired connection is watched, so once the
// limit is under 5 s nothing shows A's close again: the limit itself
// keeps A from closing. The doubtful rule then ends A's close after a
// minute, and B's close at 60 s sets the limit: 48 s, while A still
// closes every pooled connection at 5 s (a race each time, a failed POST
// when a request meets the FIN).
func TestHostileDoubtfulDropsTheTrueShortClose(t *testing.T) {
	const key = "https://lb:443"
	t.Run("one close of each", func(t *testing.T) {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		tr.ObserveClosedIdle(key, 60*s) // B, before any limit
		now = now.Add(10 * s)
		tr.ObserveClosedIdle(key, 5*s) // A
		if l := tr.Limit(key).Timeout; l >= 5*s {
			t.Fatalf("limit %v just after A closed at 5 s", l)
		}
		now = now.Add(61 * s) // nothing more to see: the limit retires connections before A closes them
		if l := tr.Limit(key); l.Timeout >= 5*s {
			t.Fatalf("limit %v from %v a minute after A closed at 5 s: A still closes at 5 s", l.Timeout, l.Source)
		}
	})
	t.Run("a confirmed close loses its partner", func(t *testing.T) {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		tr.ObserveClosedIdle(key, 5*s) // A
		now = now.Add(5 * time.Minute)
		tr.ObserveClosedIdle(key, 5*s) // A again, seen apart: confirmed, not doubtful
		now = now.Add(time.Minute)
		tr.ObserveClosedIdle(key, 60*s) // B
		if l := tr.Limit(key).Timeout; l >= 5*s {
			t.Fatalf("limit %v with A's two closes at 5 s kept", l)
		}
		now = now.Add(4 * time.Minute) // A's first close expires; its second turns doubtful, and is already a minute old
		if l := tr.Limit(key); l.Timeout >= 5*s {
			t.Fatalf("limit %v from %v, four minutes after A closed at 5 s", l.Timeout, l.Source)
		}
	})
}
