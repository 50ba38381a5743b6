package idle

import (
	"testing"
	"time"
)

func TestTrackerLimit(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(0, 0)
	tr := NewTracker()
	tr.SetClock(func() time.Time { return now })

	if l := tr.Limit(key); l.Source != SourceNone || l.Timeout != 0 {
		t.Fatalf("empty tracker: %+v", l)
	}
	tr.Configure(key, 10*time.Second)
	check := func(want time.Duration, src Source) {
		t.Helper()
		if l := tr.Limit(key); l.Timeout != want || l.Source != src {
			t.Fatalf("Limit = %v from %v, want %v from %v", l.Timeout, l.Source, want, src)
		}
	}
	check(8*time.Second, SourceConfigured)
	tr.ObserveKeepAlive(key, []string{"timeout=5, max=10"})
	check(4*time.Second, SourceAdvertised)
	if tr.Limit(key).MaxRequests != 10 {
		t.Fatal("max=10 not kept")
	}
	tr.ObserveClosedIdle(key, 2*time.Second)
	check(1600*time.Millisecond, SourceObserved)

	now = now.Add(DefaultTTL)
	check(4*time.Second, SourceAdvertised)

	tr.ObserveClosedIdle(key, time.Millisecond)
	check(DefaultFloor, SourceObserved)
}

func TestTrackerLimitDoesNotAllocate(t *testing.T) {
	const key = "http://b:80"
	tr := NewTracker()
	h := []string{"timeout=5"}
	tr.ObserveKeepAlive(key, h)
	if n := testing.AllocsPerRun(100, func() {
		tr.ObserveKeepAlive(key, h)
		_ = tr.Limit(key)
	}); n != 0 {
		t.Fatalf("allocs per response = %v, want 0", n)
	}
}

func TestTrackerRange(t *testing.T) {
	tr := NewTracker()
	tr.Configure("http://a:80", 10*time.Second)
	tr.ObserveKeepAlive("http://b:80", []string{"timeout=5"})
	got := map[string]Limit{}
	tr.Range(func(key string, l Limit) { got[key] = l })
	want := map[string]Limit{
		"http://a:80": {Timeout: 8 * time.Second, Source: SourceConfigured},
		"http://b:80": {Timeout: 4 * time.Second, Source: SourceAdvertised},
	}
	if len(got) != len(want) {
		t.Fatalf("Range saw %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Range: %s = %+v, want %+v", k, got[k], w)
		}
	}
}
