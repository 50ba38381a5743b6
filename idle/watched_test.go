package idle

import (
	"testing"
	"time"
)

func TestObserveWatchedClose(t *testing.T) {
	const key = "http://node:80"
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		header     string
		configured time.Duration
		connect    time.Duration // a connect time seen; zero: none
		closed     time.Duration // an idle close seen before the watched ones; zero: none
		watched    []time.Duration
		want       time.Duration
		source     Source
	}{
		// Fewer than three measured closes: the ratio of the smallest.
		{name: "node, once", header: "timeout=1", watched: ms(2000), want: 1600 * time.Millisecond, source: SourceObserved},
		{name: "node, twice", header: "timeout=1", watched: ms(2000, 2010), want: 1600 * time.Millisecond, source: SourceObserved},
		// Three within 50 ms: the smallest, less 50 ms, a 64th and the spread.
		{name: "node", header: "timeout=1", watched: ms(2000, 2010, 2005), want: 1908750 * time.Microsecond, source: SourceObserved},
		{name: "apache on time", header: "timeout=1", watched: ms(1010, 1010, 1010), want: 934375 * time.Microsecond, source: SourceObserved},
		{name: "apache, setting over a whole second", header: "timeout=2", watched: ms(2500, 2500, 2500), want: 2410937500 * time.Nanosecond, source: SourceObserved},
		// Closes measured late by a stalled client: the advertised timeout
		// is the close, less the margin and the spread.
		{name: "stalled client", header: "timeout=1", watched: ms(1150, 1170, 1160), want: 914375 * time.Microsecond, source: SourceObserved},
		{name: "short margin", header: "timeout=0", watched: ms(300, 300, 300), want: 245312500 * time.Nanosecond, source: SourceObserved},
		{name: "under a second sized", header: "timeout=0", watched: ms(1300, 1300, 1300), want: 1229687500 * time.Nanosecond, source: SourceObserved},
		{name: "configured caps", header: "timeout=1", configured: time.Second, watched: ms(2000, 2000, 2000), want: 800 * time.Millisecond, source: SourceConfigured},
		{name: "a pooled close is measured too", closed: time.Second, watched: ms(1000, 1000), want: 934375 * time.Microsecond, source: SourceObserved},
		{name: "the smaller measured close wins", header: "timeout=1", closed: 1500 * time.Millisecond, watched: ms(1510, 1510), want: 1416562500 * time.Nanosecond, source: SourceObserved},
		// Closes a sweep apart: a server that closes late now and then.
		{name: "closes that disagree keep the ratio", header: "timeout=19", watched: ms(20900, 20100, 20500), want: 16080 * time.Millisecond, source: SourceObserved},
		{name: "floor", header: "timeout=0", watched: ms(90, 90, 90), want: DefaultFloor, source: SourceObserved},
		{name: "none watched", header: "timeout=1", want: 800 * time.Millisecond, source: SourceAdvertised},
		// The round trip: a first connect of 80 ms counts 240 ms (RFC
		// 6298's first variation is half the time, times four).
		{name: "round trip under the margin", header: "timeout=1", connect: 80 * time.Millisecond, watched: ms(1010, 1010, 1010), want: 694375 * time.Microsecond, source: SourceObserved},
		{name: "round trip under the ratio", connect: 80 * time.Millisecond, watched: ms(1000), want: 760 * time.Millisecond, source: SourceObserved},
		{name: "round trip under the advertised", header: "timeout=1", connect: 80 * time.Millisecond, want: 760 * time.Millisecond, source: SourceAdvertised},
		{name: "a connect past a second counts a second", header: "timeout=5", connect: 3 * time.Second, want: 2 * time.Second, source: SourceAdvertised},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := NewTracker()
			tr.now = func() time.Time { return now }
			if tc.configured > 0 {
				tr.Configure(key, tc.configured)
			}
			if tc.header != "" {
				tr.ObserveKeepAlive(key, []string{tc.header})
			}
			if tc.connect > 0 {
				tr.ObserveConnect(key, tc.connect)
			}
			if tc.closed > 0 {
				tr.ObserveClosedIdle(key, tc.closed)
			}
			for _, d := range tc.watched {
				now = now.Add(time.Second) // closes seen apart
				tr.ObserveWatchedClose(key, d)
			}
			if l := tr.Limit(key); l.Timeout != tc.want || l.Source != tc.source {
				t.Errorf("limit %v from %v, want %v from %v", l.Timeout, l.Source, tc.want, tc.source)
			}
		})
	}
}

func TestObserveWatchedCloseExpires(t *testing.T) {
	const key = "http://node:80"
	now := time.Unix(1000, 0)
	tr := NewTracker()
	tr.now = func() time.Time { return now }
	tr.ObserveKeepAlive(key, []string{"timeout=1"})
	tr.ObserveWatchedClose(key, 2*time.Second)
	tr.ObserveWatchedClose(key, 3*time.Second) // the smallest wins; they disagree
	if l := tr.Limit(key); l.Timeout != 1600*time.Millisecond {
		t.Fatalf("limit %v, want 1.6s", l.Timeout)
	}
	now = now.Add(DefaultTTL)
	tr.ObserveKeepAlive(key, []string{"timeout=1"}) // still advertised
	if l := tr.Limit(key); l.Timeout != 800*time.Millisecond || l.Source != SourceAdvertised {
		t.Fatalf("after TTL: limit %v from %v, want 800ms advertised", l.Timeout, l.Source)
	}
}

// TestCloseMargin: 50 ms for the client's own delays, and a 64th of the
// close for coarse server timers.
func TestCloseMargin(t *testing.T) {
	for _, tc := range []struct{ close, want time.Duration }{
		{250 * time.Millisecond, 53906250 * time.Nanosecond},
		{time.Second, 65625 * time.Microsecond},
		{2 * time.Second, 81250 * time.Microsecond},
		{time.Minute, 987500 * time.Microsecond},
	} {
		if got := closeMargin(tc.close); got != tc.want {
			t.Errorf("closeMargin(%v) = %v, want %v", tc.close, got, tc.want)
		}
	}
}

// TestLateCloseAgesOut: one close measured late (a sweep, or the client's
// own stall) keeps the ratio while it holds, TTL after it was measured, and
// the disagreement it showed holds TTL after the last close that lay apart
// from it; the closes after that agree again.
func TestLateCloseAgesOut(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := NewTracker()
	tr.now = func() time.Time { return now }
	tr.ObserveWatchedClose(key, 1100*time.Millisecond)
	for range 3 {
		now = now.Add(time.Minute)
		tr.ObserveWatchedClose(key, time.Second)
	}
	lastApart := now
	if l := tr.Limit(key); l.Timeout != 800*time.Millisecond {
		t.Fatalf("limit %v beside a close 100 ms later, want the ratio, 800ms", l.Timeout)
	}
	now = now.Add(DefaultTTL - 2*time.Minute) // the late close ages out
	for range 3 {
		now = now.Add(time.Second)
		tr.ObserveWatchedClose(key, time.Second)
	}
	if l := tr.Limit(key); l.Timeout != 800*time.Millisecond {
		t.Fatalf("limit %v while the disagreement holds, want the ratio, 800ms", l.Timeout)
	}
	now = lastApart.Add(DefaultTTL)
	if l := tr.Limit(key); l.Timeout != 934375*time.Microsecond {
		t.Fatalf("limit %v once closes agree again, want 934.375ms", l.Timeout)
	}
}
