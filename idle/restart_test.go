package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

func TestObserveClosedIdleRecognisesRestarts(t *testing.T) {
	const key = "http://b:80"
	type closed struct {
		after time.Duration // since the previous close
		idle  time.Duration
	}
	tests := []struct {
		name   string
		closes []closed
		want   time.Duration // the limit learned; 0: none
	}{
		{"one close", []closed{{0, 2 * time.Second}}, ratio(2 * time.Second)},
		{"went idle together, closed together: a timeout, measured once",
			[]closed{{0, 2 * time.Second}, {time.Millisecond, 2*time.Second + 20*time.Millisecond}, {time.Millisecond, 2 * time.Second}}, ratio(2 * time.Second)},
		{"three seen apart agree: the margin",
			[]closed{{0, 2 * time.Second}, {time.Second, 2*time.Second + 20*time.Millisecond}, {time.Second, 2 * time.Second}}, agreed(2*time.Second, 2*time.Second+20*time.Millisecond)},
		{"closed together after different idle times: a restart",
			[]closed{{0, 200 * time.Millisecond}, {time.Millisecond, 5 * time.Second}}, 0},
		{"an idle one, and one closed as its response ended: a restart",
			[]closed{{0, 300 * time.Millisecond}, {time.Millisecond, 0}}, 0},
		{"one closed as its response ended, then an idle one: a restart",
			[]closed{{0, 0}, {time.Millisecond, 300 * time.Millisecond}}, 0},
		{"one closed as its response ended teaches no timeout",
			[]closed{{0, 0}}, 0},
		{"the rest of a restart is ignored too, even closes alike",
			[]closed{{0, 3 * time.Second}, {time.Millisecond, 100 * time.Millisecond}, {time.Millisecond, 100 * time.Millisecond}, {time.Millisecond, 90 * time.Millisecond}}, 0},
		{"different idle times seen apart: two timeouts, the smaller wins",
			[]closed{{0, 5 * time.Second}, {time.Second, 2 * time.Second}}, ratio(2 * time.Second)},
		{"closes after the restart teach again, and must agree anew",
			[]closed{{0, 300 * time.Millisecond}, {time.Millisecond, 4 * time.Second}, {time.Second, 3 * time.Second}}, ratio(3 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := idle.NewTracker()
			tr.SetClock(func() time.Time { return now })
			for _, c := range tt.closes {
				now = now.Add(c.after)
				tr.ObserveClosedIdle(key, c.idle)
			}
			got := tr.Limit(key)
			want := idle.Limit{}
			if tt.want > 0 {
				want = idle.Limit{Timeout: tt.want, Source: idle.SourceObserved}
			}
			if got != want {
				t.Fatalf("Limit = %+v, want %+v", got, want)
			}
		})
	}
}

// TestRestartKeepsEarlierEvidence: a restart undoes only what its own
// closes taught, not a bound learned before it nor one from a stale reuse.
func TestRestartKeepsEarlierEvidence(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(1000, 0)
	tr := idle.NewTracker()
	tr.SetClock(func() time.Time { return now })
	tr.ObserveStale(key, 8*time.Second, 0)
	tr.ObserveStale(key, 8*time.Second, 0) // confirmed
	now = now.Add(time.Minute)
	tr.ObserveClosedIdle(key, 10*time.Second)
	now = now.Add(time.Minute)
	tr.ObserveClosedIdle(key, 100*time.Millisecond)
	tr.ObserveClosedIdle(key, 6*time.Second)
	if got, want := tr.Limit(key).Timeout, time.Duration(float64(8*time.Second)*idle.DefaultRatio); got != want {
		t.Fatalf("after the restart the limit is %v, want %v (from the stale reuse)", got, want)
	}
	now = now.Add(idle.DefaultTTL - 90*time.Second) // the stale bound expired, the closed one not yet
	if got, want := tr.Limit(key).Timeout, ratio(10*time.Second); got != want {
		t.Fatalf("once the stale bound expired the limit is %v, want %v", got, want)
	}
}
