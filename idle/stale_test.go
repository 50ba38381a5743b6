package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// TestObserveStale: only a stale-shaped failure teaches, and one that
// contradicts the backend's other evidence needs a second to confirm it.
func TestObserveStale(t *testing.T) {
	const key = "http://b:80"
	const ms = time.Millisecond
	type event struct {
		after      time.Duration // since the previous event
		header     string        // Keep-Alive advertised
		closed     time.Duration // an idle close seen after that idle time
		reuse      time.Duration // a reuse succeeded after that idle time
		stale      time.Duration // a stale-shaped failure after that idle time...
		afterWrite time.Duration // ...that came this long after the write
	}
	tests := []struct {
		name   string
		events []event
		want   time.Duration // the limit after the events; zero: none
	}{
		{name: "stale-shaped, nothing else known: applies",
			events: []event{{stale: 2 * time.Second, afterWrite: ms}}, want: ratio(2 * time.Second)},
		{name: "the write itself failed: applies",
			events: []event{{stale: 2 * time.Second, afterWrite: -1}}, want: ratio(2 * time.Second)},
		{name: "within a round trip of the write: applies",
			events: []event{{stale: 2 * time.Second, afterWrite: idle.StaleAfterWrite}}, want: ratio(2 * time.Second)},
		{name: "the backend worked 300ms before the reset: teaches nothing",
			events: []event{{stale: 5 * ms, afterWrite: 300 * ms}}},
		{name: "unconfirmed, it lasts a minute",
			events: []event{{stale: 2 * time.Second}, {after: idle.ConfirmWindow}}},
		{name: "just past every reuse that worked: the limit is a margin short of the longest reuse",
			events: []event{{reuse: 950 * ms}, {after: 100 * ms, stale: 1010 * ms}}, want: 950*ms - 50*ms - 950*ms/64},
		{name: "within 50 ms of the longest reuse: the reuses' own spread, no cap",
			events: []event{{reuse: 970 * ms}, {after: 100 * ms, stale: 1010 * ms}}},
		{name: "past the reuses by more than the margin: applies",
			events: []event{{reuse: 500 * ms}, {after: 100 * ms, stale: 1000 * ms}}, want: ratio(1000 * ms)},
		{name: "below a reuse that worked: needs confirmation",
			events: []event{{reuse: 100 * ms}, {after: 100 * ms, stale: 100 * ms}}},
		{name: "below a reuse, confirmed by a second",
			events: []event{{reuse: 100 * ms}, {stale: 100 * ms}, {after: 30 * time.Second, stale: 120 * ms}}, want: ratio(100 * ms)},
		{name: "confirmed, it lasts the TTL",
			events: []event{{reuse: 100 * ms}, {stale: 100 * ms}, {after: 30 * time.Second, stale: 120 * ms}, {after: idle.DefaultTTL - time.Second}}, want: ratio(100 * ms)},
		{name: "confirmed, it expires after the TTL",
			events: []event{{reuse: 100 * ms}, {stale: 100 * ms}, {after: 30 * time.Second, stale: 120 * ms}, {after: idle.DefaultTTL}}},
		{name: "a second a minute later confirms nothing",
			events: []event{{reuse: 100 * ms}, {stale: 100 * ms}, {after: idle.ConfirmWindow, stale: 100 * ms}}},
		{name: "refuted by a reuse as long",
			events: []event{{stale: 2 * time.Second}, {after: time.Second, reuse: 2 * time.Second}}},
		{name: "a shorter reuse refutes nothing",
			events: []event{{stale: 2 * time.Second}, {after: time.Second, reuse: time.Second}}, want: ratio(2 * time.Second)},
		{name: "a confirmed bound refuted by a reuse as long",
			events: []event{{stale: 2 * time.Second}, {stale: 3 * time.Second}, {after: time.Second, reuse: 2 * time.Second}}},
		{name: "under the advertised timeout: needs confirmation",
			events: []event{{header: "timeout=5"}, {stale: time.Second}}, want: ratio(5 * time.Second)},
		{name: "under the advertised timeout, confirmed",
			events: []event{{header: "timeout=5"}, {stale: time.Second}, {stale: time.Second}}, want: ratio(time.Second)},
		{name: "far under an observed close: needs confirmation",
			events: []event{{closed: 10 * time.Second}, {after: time.Second, stale: time.Second}}, want: ratio(10 * time.Second)},
		{name: "near an observed close: applies",
			events: []event{{closed: 10 * time.Second}, {after: time.Second, stale: 6 * time.Second}}, want: ratio(6 * time.Second)},
		{name: "under the floor",
			events: []event{{stale: ms}}, want: idle.DefaultFloor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			for _, e := range tt.events {
				now = now.Add(e.after)
				if e.header != "" {
					tr.ObserveKeepAlive(key, []string{e.header})
				}
				if e.closed > 0 {
					tr.ObserveClosedIdle(key, e.closed)
				}
				if e.reuse > 0 {
					tr.ObserveReuse(key, e.reuse)
				}
				if e.stale > 0 {
					tr.ObserveStale(key, e.stale, e.afterWrite)
				}
			}
			if got := tr.Limit(key).Timeout; got != tt.want {
				t.Errorf("limit %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStrayResetCostsFewDials replays requests 100 ms apart (±3 ms) to a
// backend with a 60 s idle timeout, through a client that closes
// connections idle longer than the Tracker's limit, as the transport does.
// One request meets a stray stale-shaped reset. Over the next minute the
// stray may cost at most 10 dials beyond its own.
func TestStrayResetCostsFewDials(t *testing.T) {
	const key = "http://b:80"
	tests := []struct {
		name      string
		strayAt   int // the request that meets the reset; reuses before it prove the timeout
		maxExtra  int
		recovered bool // the limit is gone by the end of the minute
	}{
		{name: "after many reuses", strayAt: 50, maxExtra: 10},
		{name: "after one reuse", strayAt: 2, maxExtra: 10},
		// Nothing contradicts a failure on the first reuse: it costs a
		// dial per request, for a minute at most.
		{name: "on the first reuse", strayAt: 1, maxExtra: 600, recovered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			jitter := []time.Duration{0, 3, -2, 1, -3, 2, -1} // ms
			dials, extra := 1, 0                              // the first request dials
			requests := tt.strayAt + 600                      // a minute after the stray
			for i := 1; i <= requests; i++ {
				gap := 100*time.Millisecond + jitter[i%len(jitter)]*time.Millisecond
				now = now.Add(gap)
				if lim := tr.Limit(key).Timeout; lim > 0 && gap > lim {
					// The client closed the connection at its limit.
					dials++
					if i > tt.strayAt {
						extra++
					}
					continue
				}
				if i == tt.strayAt {
					tr.ObserveStale(key, gap, time.Millisecond)
					dials++
					continue
				}
				tr.ObserveReuse(key, gap)
			}
			t.Logf("%d requests, %d dials, %d extra after the stray; limit at the end %+v", requests+1, dials, extra, tr.Limit(key))
			if extra > tt.maxExtra {
				t.Errorf("%d extra dials in the minute after the stray, want at most %d", extra, tt.maxExtra)
			}
			now = now.Add(time.Second) // the jitter may leave the minute a little short
			if tt.recovered && tr.Limit(key).Timeout != 0 {
				t.Errorf("limit %v a minute after the stray, want none", tr.Limit(key).Timeout)
			}
		})
	}
}
