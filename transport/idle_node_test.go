package transport

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
)

func TestIdleNodeAdvertises(t *testing.T) {
	const T = 1000 * time.Millisecond // Node advertises whole seconds
	u := testserver.Node(t, T)
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	const n = 6
	failures := spaced(t, rt, u, T, n)
	l := rt.IdleLimit(u)
	t.Logf("node T=%v: limit %v from %v, failures %d of %d, dials %d", T, l.Timeout, l.Source, failures, n, dials.Load())
	// 800 ms from the advertisement until a retired connection's watch
	// sees Node close at 2 s; then that close less its margin.
	advertised := l.Source == idle.SourceAdvertised && l.Timeout == 800*time.Millisecond
	watched := l.Source == idle.SourceObserved && l.Timeout >= 1500*time.Millisecond && l.Timeout <= 2*T-50*time.Millisecond
	if !advertised && !watched {
		t.Errorf("limit %+v, want 800ms advertised, or observed in [1.5s, 1.95s]", l)
	}
	if failures != 0 {
		t.Errorf("%d failures against an advertising server", failures)
	}
}
