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
		watched    time.Duration
		want       time.Duration
		source     Source
	}{
		// The limit is a measured close less 50 ms and a 64th of it.
		{name: "node", header: "timeout=1", watched: 2 * time.Second, want: 1918750 * time.Microsecond, source: SourceObserved},
		{name: "apache on time", header: "timeout=1", watched: 1010 * time.Millisecond, want: 944218750 * time.Nanosecond, source: SourceObserved},
		{name: "short margin", header: "timeout=0", watched: 300 * time.Millisecond, want: 245312500 * time.Nanosecond, source: SourceObserved},
		{name: "under a second sized", header: "timeout=0", watched: 1300 * time.Millisecond, want: 1229687500 * time.Nanosecond, source: SourceObserved},
		{name: "configured caps", header: "timeout=1", configured: time.Second, watched: 2 * time.Second, want: 800 * time.Millisecond, source: SourceConfigured},
		{name: "a pooled close is measured too", closed: time.Second, want: 934375 * time.Microsecond, source: SourceObserved},
		{name: "the smaller measured close wins", header: "timeout=1", closed: 1500 * time.Millisecond, watched: 2 * time.Second, want: 1426562500 * time.Nanosecond, source: SourceObserved},
		{name: "floor", header: "timeout=0", watched: 90 * time.Millisecond, want: DefaultFloor, source: SourceObserved},
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
			if tc.watched > 0 {
				tr.ObserveWatchedClose(key, tc.watched)
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
	tr.ObserveWatchedClose(key, 3*time.Second) // the smallest wins
	if l := tr.Limit(key); l.Timeout != 1918750*time.Microsecond {
		t.Fatalf("limit %v, want 1.91875s", l.Timeout)
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
