package transport

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
)

func TestIdleNginx(t *testing.T) {
	tests := []struct {
		name      string
		advertise bool
		source    idle.Source
	}{
		// The advertised timeout is a lower bound; the watch of the first
		// retired connection measures nginx's close, on time.
		{"header", true, idle.SourceObserved},
		{"silent", false, idle.SourceObserved},
	}
	const T = time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testserver.Nginx(t, T, tt.advertise)
			var dials atomic.Int32
			rt := New(WithBase(countingBase(&dials)))
			t.Cleanup(rt.CloseIdleConnections)
			const n = 5
			if err := do(t, rt, "GET", u); err != nil {
				t.Fatal(err)
			}
			failures := spaced(t, rt, u, T, n)
			l := rt.IdleLimit(u)
			t.Logf("nginx %s T=%v: limit %v from %v, failures %d of %d, dials %d", tt.name, T, l.Timeout, l.Source, failures, n, dials.Load())
			// A silent nginx's first-contact failure can lie within the
			// spread of the reuses before it (a failure after 1010 ms
			// beside reuses after 990 ms), which caps nothing (see
			// idle.Tracker.ObserveStale): its limit then comes from the
			// first close it makes of a pooled connection, which five
			// requests may not see. The failures are bounded below.
			if l.Source != tt.source && (tt.advertise || l.Source != idle.SourceNone) {
				t.Errorf("source %v, want %v", l.Source, tt.source)
			}
			if l.Timeout > T-50*time.Millisecond {
				t.Errorf("limit %v past nginx's close at %v less 50ms", l.Timeout, T)
			}
			if tt.advertise && failures != 0 {
				t.Errorf("%d failures against an advertising server", failures)
			}
			if !tt.advertise && failures > 1 {
				t.Errorf("%d failures, want at most 1", failures)
			}
		})
	}
}
