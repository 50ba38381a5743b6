package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// Several instances behind one key (an L4 load balancer, a rolling
// deploy that lowers Node.js's keepAliveTimeout from 10 s to 3 s): each
// response carries its own instance's advertisement, so the advertised
// timeout flips with every response, and every flip forgets the closes
// measured. New instances close at 4 s (Node.js: a second after what it
// advertises); a response from an old instance then raises the limit to
// 8 s, a second after two of those closes were seen. Before the rework a
// measured close replaced the advertisement and held: the limit stayed
// under 4 s.
func TestHostileAdvertisementFlipForgetsShortCloses(t *testing.T) {
	const key = "http://lb:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveKeepAlive(key, []string{"timeout=10"}) // old instance
	tr.ObserveKeepAlive(key, []string{"timeout=3"})  // new instance
	now = now.Add(10 * s)
	tr.ObserveClosedIdle(key, 4*s) // a new instance closed a pooled connection
	now = now.Add(10 * s)
	tr.ObserveClosedIdle(key, 4*s)
	now = now.Add(s)
	tr.ObserveKeepAlive(key, []string{"timeout=10"}) // the next response came from an old instance
	if l := tr.Limit(key); l.Timeout >= 4*s-100*ms {
		t.Fatalf("limit %v from %v a second after two closes at 4 s: the instances that close at 4 s are still there", l.Timeout, l.Source)
	}
}

// The same with a mix of Node.js (timeout=5, closes at 6 s) and Go
// (no header) instances: an ask answered by a Go instance withdraws the
// advertisement and forgets the closes measured at 6 s; the limit is
// then none at all, and the Node.js instances still close at 6 s.
func TestHostileWithdrawnAdvertisementForgetsCloses(t *testing.T) {
	const key = "http://lb:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveKeepAlive(key, []string{"timeout=5"})
	for range 3 {
		now = now.Add(10 * s)
		tr.ObserveClosedIdle(key, 6*s)
	}
	now = now.Add(time.Minute)
	if !tr.AskKeepAlive(key) {
		t.Fatal("no ask after a minute")
	}
	tr.ObserveKeepAlive(key, nil) // the ask was answered by a Go instance
	if l := tr.Limit(key); l.Source == idle.SourceNone || l.Timeout >= 6*s {
		t.Fatalf("limit %v from %v, a minute after three closes at 6 s", l.Timeout, l.Source)
	}
}
