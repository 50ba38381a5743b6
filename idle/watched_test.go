package idle

import (
	"testing"
	"time"
)

func TestObserveWatchedClose(t *testing.T) {
	const key = "http://node:80"
	for _, tc := range []struct {
		name       string
		header     string
		configured time.Duration
		closed     time.Duration // an idle close seen before the limit; zero: none
		watched    []time.Duration
		want       time.Duration
		source     Source
	}{
		// One measured close: the ratio of it, until a second agrees.
		{name: "node, once", header: "timeout=1", watched: []time.Duration{2 * time.Second}, want: 1600 * time.Millisecond, source: SourceObserved},
		// Two within 50 ms: the smaller, less 50 ms, a 64th and the spread.
		{name: "node", header: "timeout=1", watched: []time.Duration{2 * time.Second, 2010 * time.Millisecond}, want: 1908750 * time.Microsecond, source: SourceObserved},
		{name: "apache on time", header: "timeout=1", watched: []time.Duration{1010 * time.Millisecond, 1010 * time.Millisecond}, want: 944218750 * time.Nanosecond, source: SourceObserved},
		{name: "short margin", header: "timeout=0", watched: []time.Duration{300 * time.Millisecond, 300 * time.Millisecond}, want: 245312500 * time.Nanosecond, source: SourceObserved},
		{name: "under a second sized", header: "timeout=0", watched: []time.Duration{1300 * time.Millisecond, 1300 * time.Millisecond}, want: 1229687500 * time.Nanosecond, source: SourceObserved},
		{name: "configured caps", header: "timeout=1", configured: time.Second, watched: []time.Duration{2 * time.Second, 2 * time.Second}, want: 800 * time.Millisecond, source: SourceConfigured},
		{name: "a pooled close is measured too", closed: time.Second, watched: []time.Duration{time.Second}, want: 934375 * time.Microsecond, source: SourceObserved},
		{name: "the smaller measured close wins", header: "timeout=1", closed: 1500 * time.Millisecond, watched: []time.Duration{1510 * time.Millisecond}, want: 1416562500 * time.Nanosecond, source: SourceObserved},
		// Closes a sweep apart: a server that closes late now and then.
		{name: "closes that disagree keep the ratio", header: "timeout=20", watched: []time.Duration{20900 * time.Millisecond, 20100 * time.Millisecond}, want: 16080 * time.Millisecond, source: SourceObserved},
		{name: "floor", header: "timeout=0", watched: []time.Duration{90 * time.Millisecond, 90 * time.Millisecond}, want: DefaultFloor, source: SourceObserved},
		{name: "none watched", header: "timeout=1", want: 800 * time.Millisecond, source: SourceAdvertised},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			if tc.configured > 0 {
				tr.Configure(key, tc.configured)
			}
			if tc.header != "" {
				tr.ObserveKeepAlive(key, []string{tc.header})
			}
			if tc.closed > 0 {
				tr.ObserveClosedIdle(key, tc.closed)
			}
			for _, d := range tc.watched {
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
// own stall) keeps the ratio while it holds, TTL after it was measured;
// the closes after it then agree again.
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
	if l := tr.Limit(key); l.Timeout != 800*time.Millisecond {
		t.Fatalf("limit %v beside a close 100 ms later, want the ratio, 800ms", l.Timeout)
	}
	now = now.Add(DefaultTTL - 2*time.Minute) // the late close ages out
	for range 2 {
		now = now.Add(time.Second)
		tr.ObserveWatchedClose(key, time.Second)
	}
	if l := tr.Limit(key); l.Timeout != 934375*time.Microsecond {
		t.Fatalf("limit %v once closes agree again, want 934.375ms", l.Timeout)
	}
}
