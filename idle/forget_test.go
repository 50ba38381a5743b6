package idle_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// TestTrackerStaysWithinMaxBackends: ten times MaxBackends distinct
// backends leave at most MaxBackends remembered, the most recently used
// among them, and a heap bounded by the cap, not by the backends seen.
func TestTrackerStaysWithinMaxBackends(t *testing.T) {
	tests := []struct {
		name string
		max  int // MaxBackends; zero: the default
	}{
		{name: "default", max: 0},
		{name: "small", max: 100},
		{name: "one", max: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			tr.MaxBackends = tt.max
			limit := tt.max
			if limit == 0 {
				limit = idle.DefaultMaxBackends
			}
			keys := make([]string, 10*limit)
			for i := range keys {
				keys[i] = fmt.Sprintf("http://10.%d.%d.%d:80", i>>16&0xff, i>>8&0xff, i&0xff)
			}
			heap := func() uint64 {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapAlloc
			}
			before := heap()
			for _, k := range keys {
				now = now.Add(time.Millisecond)
				tr.ObserveKeepAlive(k, []string{"timeout=5"})
				tr.ObserveClosedIdle(k, 3*time.Second)
				tr.ObserveReuse(k, time.Second)
				if n := tr.Backends(); n > limit {
					t.Fatalf("%d backends remembered, want at most %d", n, limit)
				}
			}
			grown := int64(heap()) - int64(before)
			runtime.KeepAlive(keys)
			// A backend takes a few hundred bytes; 1 KiB each is loose.
			if per := grown / int64(limit); per > 1024 {
				t.Errorf("heap grew %d B for %d backends remembered of %d seen: %d B each", grown, limit, len(keys), per)
			}
			last := keys[len(keys)-1]
			if l := tr.Limit(last); l.Source != idle.SourceObserved {
				t.Errorf("the most recently used backend was forgotten: %+v", l)
			}
			t.Logf("%d backends seen, %d remembered, heap grew %d B", len(keys), tr.Backends(), grown)
		})
	}
}

// TestTrackerForgetsLeastRecentlyUsed: when the cap is reached, backends
// still in use are kept over those not used for longer.
func TestTrackerForgetsLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.MaxBackends = 8
	const hot = "http://hot:80"
	tr.ObserveClosedIdle(hot, 3*time.Second)
	for i := range 100 {
		now = now.Add(time.Millisecond)
		tr.ObserveKeepAlive(fmt.Sprintf("http://cold%d:80", i), []string{"timeout=5"})
		_ = tr.Limit(hot) // a request to hot
	}
	if l := tr.Limit(hot); l.Timeout != ratio(3*time.Second) {
		t.Errorf("the backend in use was forgotten: %+v", l)
	}
}

// TestTrackerForgetsIdleBackends: a backend with no request for TTL is
// forgotten once a new backend comes, at the cap or under it.
func TestTrackerForgetsIdleBackends(t *testing.T) {
	tests := []struct {
		name string
		max  int
	}{
		{name: "at the cap", max: 4},
		{name: "under the cap", max: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			tr.MaxBackends = tt.max
			for i := range 4 {
				tr.ObserveKeepAlive(fmt.Sprintf("http://old%d:80", i), []string{"timeout=5"})
			}
			tr.ObserveKeepAlive("http://kept:80", []string{"timeout=5"})
			now = now.Add(idle.DefaultTTL / 2)
			_ = tr.Limit("http://kept:80")
			now = now.Add(idle.DefaultTTL / 2)
			tr.ObserveKeepAlive("http://new:80", []string{"timeout=5"})
			if n := tr.Backends(); n != 2 {
				t.Errorf("%d backends remembered, want 2: the others saw no request for a TTL", n)
			}
		})
	}
}
