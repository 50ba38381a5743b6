package idle_test

import (
	"slices"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// The hostile sequences a review found against the measured-close rule,
// each with the limit it must give. Every test runs on a fake clock.

const (
	ms = time.Millisecond
	s  = time.Second
)

// checkLimit fails t unless tr's limit of key is want from src.
func checkLimit(t *testing.T, tr *idle.Tracker, key string, want time.Duration, src idle.Source) {
	t.Helper()
	if l := tr.Limit(key); l.Timeout != want || l.Source != src {
		t.Fatalf("limit %v from %v, want %v from %v", l.Timeout, l.Source, want, src)
	}
}

// observeEach has observe (a Tracker's ObserveWatchedClose or
// ObserveClosedIdle) see a close of each of ds on key in turn, the fake
// clock now moving gap on after each.
func observeEach(now *time.Time, gap time.Duration, observe func(key string, d time.Duration), key string, ds ...time.Duration) {
	for _, d := range ds {
		observe(key, d)
		*now = now.Add(gap)
	}
}

// times returns n closes of d.
func times(n int, d time.Duration) []time.Duration {
	return slices.Repeat([]time.Duration{d}, n)
}

// TestChanceAgreementKeepsTheRatio: a server that sweeps its idle
// connections once a second closes anywhere in that second; two of its
// closes within 50 ms of each other, or any number in one burst, are not
// a server that closes on time.
func TestChanceAgreementKeepsTheRatio(t *testing.T) {
	const key = "http://sweep:80"
	t.Run("two that agree", func(t *testing.T) {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		tr.ObserveWatchedClose(key, 5900*ms)
		now = now.Add(10 * s)
		tr.ObserveWatchedClose(key, 5940*ms)
		checkLimit(t, tr, key, ratio(5900*ms), idle.SourceObserved)
	})
	t.Run("a burst counts once", func(t *testing.T) {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		observeEach(&now, 10*ms, tr.ObserveClosedIdle, key, times(3, 5900*ms)...)
		checkLimit(t, tr, key, ratio(5900*ms), idle.SourceObserved)
	})
	t.Run("three seen apart", func(t *testing.T) {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		observeEach(&now, 10*s, tr.ObserveWatchedClose, key, 5900*ms, 5940*ms, 5920*ms)
		checkLimit(t, tr, key, agreed(5900*ms, 5940*ms), idle.SourceObserved)
	})
}

// TestStaleFailureNearTheClosesTurnsTheMarginOff: a stale failure after
// more than half the measured close says the closes agreed by chance; the
// limit goes back to the ratio of the failure at once, for TTL, and
// reuses that succeed later do not bring the margin back.
func TestStaleFailureNearTheClosesTurnsTheMarginOff(t *testing.T) {
	const key = "http://sweep:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, 5900*ms, 5940*ms, 5920*ms)
	tr.ObserveReuse(key, 5500*ms) // reuses that worked make the failure unconfirmed evidence only
	tr.ObserveStale(key, 5700*ms, 0)
	checkLimit(t, tr, key, ratio(5700*ms), idle.SourceObserved)
	now = now.Add(idle.ConfirmWindow)
	tr.ObserveReuse(key, 5800*ms) // refutes the stale bound, not the close it counts as
	checkLimit(t, tr, key, ratio(5700*ms), idle.SourceObserved)
	now = now.Add(idle.DefaultTTL)
	checkLimit(t, tr, key, 0, idle.SourceNone)

	// A stray reset far below the closes is no such evidence.
	tr = fakeClock(&now)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(3, 60*s)...)
	tr.ObserveStale(key, 100*ms, 0)
	checkLimit(t, tr, key, agreed(60*s, 60*s), idle.SourceObserved) // under half the close: needs a second to confirm it
}

// TestShortCloseHoldsForTTL: one close far shorter than the others (a
// restart that closed the one pooled connection, or one instance of a
// load-balanced pool that closes sooner) holds for TTL, and later closes
// neither extend it nor push it out.
func TestShortCloseHoldsForTTL(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	observeEach(&now, 2*time.Minute, tr.ObserveClosedIdle, key, times(3, 60*s)...)
	tr.ObserveClosedIdle(key, 5*s)
	short := now
	checkLimit(t, tr, key, ratio(5*s), idle.SourceObserved)
	for range 10 { // more than the closes kept
		now = now.Add(30 * s)
		tr.ObserveWatchedClose(key, 60*s)
	}
	checkLimit(t, tr, key, ratio(5*s), idle.SourceObserved)
	now = short.Add(idle.DefaultTTL)
	if l := tr.Limit(key); l.Timeout <= ratio(5*s) {
		t.Fatalf("limit %v TTL after the short close, want it risen", l.Timeout)
	}
}

// TestLimitRisesWithTheServer: a server that raised its timeout is
// believed once the old closes expire, TTL after the last of them.
func TestLimitRisesWithTheServer(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(3, 1*s)...)
	last := now.Add(-10 * s)
	checkLimit(t, tr, key, agreed(1*s, 1*s), idle.SourceObserved)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(8, 5*s)...)
	checkLimit(t, tr, key, ratio(1*s), idle.SourceObserved) // closes a factor 5 apart: the smallest, scaled
	now = last.Add(idle.DefaultTTL)
	checkLimit(t, tr, key, ratio(5*s), idle.SourceObserved) // they disagreed within TTL: no margin yet
	now = now.Add(idle.DefaultTTL)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(3, 5*s)...)
	checkLimit(t, tr, key, agreed(5*s, 5*s), idle.SourceObserved)
}

// TestShorterAdvertisementCapsClosesMeasured: a server that advertised
// timeout=10 and then timeout=3 was reconfigured, or one instance of it
// was: no server closes 7 s after what it advertises, so the advertised
// timeout caps the limit again. A countdown of max alone changes nothing.
func TestShorterAdvertisementCapsClosesMeasured(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveKeepAlive(key, []string{"timeout=10, max=100"})
	observeEach(&now, 20*s, tr.ObserveWatchedClose, key, times(3, 10*s)...)
	tr.ObserveKeepAlive(key, []string{"timeout=10, max=99"})
	checkLimit(t, tr, key, agreed(10*s, 10*s), idle.SourceObserved)
	tr.ObserveKeepAlive(key, []string{"timeout=3, max=100"})
	checkLimit(t, tr, key, ratio(3*s), idle.SourceAdvertised)
}

// TestClosesAgeAlike: each close expires TTL after it was measured, so
// the spread is always that of closes that still count.
func TestClosesAgeAlike(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveWatchedClose(key, 1*s)
	now = now.Add(9 * time.Minute)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, 1040*ms, 1020*ms, 1030*ms)
	checkLimit(t, tr, key, agreed(1*s, 1040*ms), idle.SourceObserved)
	now = now.Add(time.Minute) // the 1 s close expires; the three left agree
	checkLimit(t, tr, key, agreed(1020*ms, 1040*ms), idle.SourceObserved)
}

// TestRoundTripInTheLimit: the round trip, estimated from connect times,
// comes off every limit; a connect that took long weighs less as more
// come.
func TestRoundTripInTheLimit(t *testing.T) {
	const key = "http://far:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(3, 1*s)...)
	tr.ObserveConnect(key, 80*ms) // first: 80 + 4 x 40
	checkLimit(t, tr, key, agreed(1*s, 1*s)-240*ms, idle.SourceObserved)
	for range 30 {
		tr.ObserveConnect(key, 80*ms)
	}
	l := tr.Limit(key).Timeout
	if want := agreed(1*s, 1*s) - 80*ms; l > want || l < want-ms {
		t.Fatalf("limit %v after steady 80 ms connects, want about %v", l, want)
	}
	tr.ObserveConnect(key, 0)         // ignored
	tr.ObserveConnect(key, -1*ms)     // ignored
	tr.ObserveConnect(key, time.Hour) // a second at most
	if got := tr.Limit(key).Timeout; got < idle.DefaultFloor || got >= l {
		t.Fatalf("limit %v after a long connect, want below %v, at least the floor", got, l)
	}
}
