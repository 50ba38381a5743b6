package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// fakeClock returns a Tracker whose clock is *now.
func fakeClock(now *time.Time) *idle.Tracker {
	tr := idle.NewTracker()
	tr.SetClock(func() time.Time { return *now })
	return tr
}

func ratio(d time.Duration) time.Duration { return time.Duration(float64(d) * idle.DefaultRatio) }

// measured is the limit a measured close of d sets.
func measured(d time.Duration) time.Duration { return d - idle.CloseMargin(d) }

// agreed is the limit of measured closes lo and hi that agree.
func agreed(lo, hi time.Duration) time.Duration { return measured(lo) - (hi - lo) }

func TestTrackerLimit(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)

	if l := tr.Limit(key); l.Source != idle.SourceNone || l.Timeout != 0 {
		t.Fatalf("empty tracker: %+v", l)
	}
	tr.Configure(key, 10*time.Second)
	check := func(want time.Duration, src idle.Source) {
		t.Helper()
		if l := tr.Limit(key); l.Timeout != want || l.Source != src {
			t.Fatalf("Limit = %v from %v, want %v from %v", l.Timeout, l.Source, want, src)
		}
	}
	check(8*time.Second, idle.SourceConfigured)
	tr.ObserveKeepAlive(key, []string{"timeout=5, max=10"})
	check(4*time.Second, idle.SourceAdvertised)
	if tr.Limit(key).MaxRequests != 10 {
		t.Fatal("max=10 not kept")
	}
	tr.ObserveClosedIdle(key, 2*time.Second) // a measured close replaces the advertisement
	check(ratio(2*time.Second), idle.SourceObserved)
	now = now.Add(time.Second)
	tr.ObserveClosedIdle(key, 2010*time.Millisecond) // a second like it: still the ratio
	check(ratio(2*time.Second), idle.SourceObserved)
	now = now.Add(time.Second)
	tr.ObserveClosedIdle(key, 2005*time.Millisecond) // a third agrees: the margin
	check(agreed(2*time.Second, 2010*time.Millisecond), idle.SourceObserved)

	now = now.Add(idle.DefaultTTL)
	check(4*time.Second, idle.SourceAdvertised)

	tr.ObserveClosedIdle(key, time.Millisecond)
	check(idle.DefaultFloor, idle.SourceObserved)

	tr.Configure(key, 0)
	tr.Configure("http://other:80", time.Second)
	now = now.Add(idle.DefaultTTL)
	tr.ObserveKeepAlive(key, nil) // asked, and the advertisement is gone
	check(0, idle.SourceNone)
}

// TestTruncatedAdvertisement: Keep-Alive timeouts are whole seconds,
// rounded down. timeout=N is a close no sooner than N; timeout=0 gives no
// lower bound, so the limit stays short until a close sizes it.
func TestTruncatedAdvertisement(t *testing.T) {
	const key = "http://b:80"
	tests := []struct {
		name   string
		header string
		closed time.Duration // an idle close observed after the header; zero: none
		want   idle.Limit
	}{
		{name: "timeout=N is N", header: "timeout=2",
			want: idle.Limit{Timeout: ratio(2 * time.Second), Source: idle.SourceAdvertised}},
		{name: "timeout=N, apache closes within the second after", header: "timeout=2", closed: 2300 * time.Millisecond,
			want: idle.Limit{Timeout: ratio(2300 * time.Millisecond), Source: idle.SourceObserved}},
		{name: "timeout=N, node closes a second after", header: "timeout=1", closed: 2 * time.Second,
			want: idle.Limit{Timeout: ratio(2 * time.Second), Source: idle.SourceObserved}},
		{name: "timeout=N, a proxy closes sooner", header: "timeout=5", closed: 2 * time.Second,
			want: idle.Limit{Timeout: ratio(2 * time.Second), Source: idle.SourceObserved}},
		{name: "timeout=0 alone is short", header: "timeout=0",
			want: idle.Limit{Timeout: idle.DefaultFloor, Source: idle.SourceAdvertised}},
		{name: "timeout=0 keeps max", header: "timeout=0, max=99",
			want: idle.Limit{Timeout: idle.DefaultFloor, MaxRequests: 99, Source: idle.SourceAdvertised}},
		{name: "timeout=0, apache's close sizes it", header: "timeout=0", closed: 300 * time.Millisecond,
			want: idle.Limit{Timeout: ratio(300 * time.Millisecond), Source: idle.SourceObserved}},
		{name: "timeout=0, node's close a second later sizes it", header: "timeout=0", closed: 1300 * time.Millisecond,
			want: idle.Limit{Timeout: ratio(1300 * time.Millisecond), Source: idle.SourceObserved}},
		{name: "junk teaches nothing", header: "timeout=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			tr.ObserveKeepAlive(key, []string{tt.header})
			if tt.closed > 0 {
				now = now.Add(tt.closed)
				tr.ObserveClosedIdle(key, tt.closed)
			}
			if got := tr.Limit(key); got != tt.want {
				t.Errorf("Limit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestAskKeepAlive: a backend is asked for its advertisement until it
// answers, then once a minute; an answer without the header withdraws
// what it advertised before.
func TestAskKeepAlive(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	steps := []struct {
		name    string
		after   time.Duration
		answer  []string // nil: no answer in this step
		silent  bool     // an answer without the header
		wantAsk bool
		want    time.Duration
	}{
		{name: "unknown", wantAsk: true},
		{name: "advertised", answer: []string{"timeout=5"}, want: ratio(5 * time.Second)},
		{name: "a little later", after: 30 * time.Second, want: ratio(5 * time.Second)},
		{name: "due for a refresh", after: 30 * time.Second, wantAsk: true, want: ratio(5 * time.Second)},
		{name: "same answer", answer: []string{"timeout=5"}, want: ratio(5 * time.Second)},
		{name: "due again", after: time.Minute, wantAsk: true, want: ratio(5 * time.Second)},
		{name: "withdrawn", silent: true},
		{name: "silent backends are asked once a minute", after: 59 * time.Second},
		{name: "minute over", after: time.Second, wantAsk: true},
	}
	for _, s := range steps {
		now = now.Add(s.after)
		switch {
		case s.answer != nil:
			tr.ObserveKeepAlive(key, s.answer)
		case s.silent:
			tr.ObserveKeepAlive(key, nil)
		}
		if got := tr.AskKeepAlive(key); got != s.wantAsk {
			t.Errorf("%s: AskKeepAlive = %v, want %v", s.name, got, s.wantAsk)
		}
		if got := tr.Limit(key).Timeout; got != s.want {
			t.Errorf("%s: limit %v, want %v", s.name, got, s.want)
		}
	}
}

// TestTrackerHotPathDoesNotAllocate: what runs on every request of a
// known backend allocates nothing.
func TestTrackerHotPathDoesNotAllocate(t *testing.T) {
	const key = "http://b:80"
	tr := idle.NewTracker()
	h := []string{"timeout=5"}
	tr.ObserveKeepAlive(key, h)
	tr.ObserveReuse(key, time.Second)
	tr.ObserveKeepAlive("http://silent:80", nil)
	if n := testing.AllocsPerRun(100, func() {
		_ = tr.AskKeepAlive(key)
		tr.ObserveKeepAlive(key, h)
		tr.ObserveKeepAlive("http://silent:80", nil)
		tr.ObserveReuse(key, 900*time.Millisecond)
		_ = tr.Limit(key)
		_ = tr.Limit(key)
	}); n != 0 {
		t.Fatalf("allocs per request = %v, want 0", n)
	}
}

func TestTrackerRange(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.Configure("http://a:80", 10*time.Second)
	tr.Configure("http://configured-only:80", 10*time.Second)
	tr.ObserveKeepAlive("http://gone:80", []string{"timeout=5"})
	now = now.Add(idle.DefaultTTL / 2)
	tr.ObserveKeepAlive("http://b:80", []string{"timeout=5"})
	_ = tr.Limit("http://a:80")
	now = now.Add(idle.DefaultTTL / 2)
	got := map[string]idle.Limit{}
	tr.Range(func(key string, l idle.Limit) { got[key] = l })
	want := map[string]idle.Limit{
		"http://a:80": {Timeout: 8 * time.Second, Source: idle.SourceConfigured},
		"http://b:80": {Timeout: 4 * time.Second, Source: idle.SourceAdvertised},
	}
	if len(got) != len(want) {
		t.Fatalf("Range saw %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Range: %s = %+v, want %+v", k, got[k], w)
		}
	}
	if n := tr.Backends(); n != 2 {
		t.Errorf("%d backends remembered after Range, want 2", n)
	}
	// Range itself is no request: a TTL later, both are gone, but the
	// configured limit stays.
	now = now.Add(idle.DefaultTTL)
	tr.Range(func(key string, l idle.Limit) { t.Errorf("Range reported %s a TTL after its last request", key) })
	if l := tr.Limit("http://a:80"); l.Timeout != 8*time.Second {
		t.Errorf("configured limit lost with the backend: %+v", l)
	}
}
