package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// TestReview4JustPastReusesFailures simulates a backend whose idle
// timeout (1030 ms) lies just past the reuses that worked, and a client
// whose idle times are jittery (1000 to 1060 ms, one request every 10 s of
// fake time, for ten minutes). It counts the requests that fail as stale:
// each can be a POST. It fails if more than two fail in ten minutes (the
// first failure caps nothing, the second confirms it): 2 on this code, 9
// before d97d005. Bursts more than ConfirmWindow apart are only logged:
// 34 of 60 fail there, on this code and before it, as no failure ever
// meets a second within the window (in a real Transport the idle close
// that follows a burst would teach the limit instead).
func TestReview4JustPastReusesFailures(t *testing.T) {
	const key = "http://justpast:80"
	const timeout = 1030 * ms
	for _, gap := range []time.Duration{10 * s, 70 * s} {
		now := time.Unix(1000, 0)
		tr := fakeClock(&now)
		failed := 0
		for i := range 60 {
			idleFor := 1000*ms + time.Duration(i*3%7)*10*ms // 1000..1060 ms
			if l := tr.Limit(key); l.Timeout > 0 && idleFor >= l.Timeout {
				now = now.Add(gap)
				continue // closed by the limit: a new connection
			}
			if idleFor < timeout {
				tr.ObserveReuse(key, idleFor)
			} else {
				failed++
				tr.ObserveStale(key, idleFor, 0)
			}
			now = now.Add(gap)
		}
		t.Logf("gap %v: %d stale failures in 60 requests; limit now %v", gap, failed, tr.Limit(key).Timeout)
		if gap < idle.ConfirmWindow && failed > 2 {
			t.Errorf("gap %v: %d requests failed against a timeout just past the reuses", gap, failed)
		}
	}
}
