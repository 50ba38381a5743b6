package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// TestAdvertisedMaxIsReplaced: a backend's advertised max is the last
// one it sent; an answered ask without the header clears it, and so does
// a TTL without any answer, while the advertised timeout stays.
func TestAdvertisedMaxIsReplaced(t *testing.T) {
	const key = "http://b:80"
	tests := []struct {
		name    string
		then    func(t *testing.T, tr *idle.Tracker, now *time.Time)
		wantMax int
	}{
		{name: "counted down", wantMax: 3, then: func(_ *testing.T, tr *idle.Tracker, _ *time.Time) {
			tr.ObserveKeepAlive(key, []string{"timeout=5, max=3"})
		}},
		{name: "answered without it", wantMax: 0, then: func(_ *testing.T, tr *idle.Tracker, _ *time.Time) {
			tr.ObserveKeepAlive(key, nil)
		}},
		{name: "answered with a timeout only", wantMax: 0, then: func(_ *testing.T, tr *idle.Tracker, _ *time.Time) {
			tr.ObserveKeepAlive(key, []string{"timeout=5"})
		}},
		{name: "no answer for a TTL", wantMax: 0, then: func(_ *testing.T, tr *idle.Tracker, now *time.Time) {
			*now = now.Add(idle.DefaultTTL)
			tr.ObserveReuse(key, time.Millisecond) // a request, no answer
		}},
		{name: "no answer for under a TTL", wantMax: 99, then: func(_ *testing.T, tr *idle.Tracker, now *time.Time) {
			*now = now.Add(idle.DefaultTTL - time.Second)
		}},
		{name: "the same header after it expired", wantMax: 99, then: func(t *testing.T, tr *idle.Tracker, now *time.Time) {
			*now = now.Add(idle.DefaultTTL)
			if l := tr.Limit(key); l.MaxRequests != 0 {
				t.Errorf("after a TTL: max %d, want 0", l.MaxRequests)
			}
			tr.ObserveKeepAlive(key, []string{"timeout=5, max=99"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tr := fakeClock(&now)
			tr.ObserveKeepAlive(key, []string{"timeout=5, max=99"})
			tt.then(t, tr, &now)
			l := tr.Limit(key)
			if l.MaxRequests != tt.wantMax {
				t.Errorf("MaxRequests = %d, want %d", l.MaxRequests, tt.wantMax)
			}
			if tt.name != "answered without it" && l.Timeout != ratio(5*time.Second) {
				t.Errorf("Timeout = %v, want the advertised one kept", l.Timeout)
			}
		})
	}
}
