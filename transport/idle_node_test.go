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
	if l.Source != idle.SourceAdvertised || l.Timeout != 800*time.Millisecond {
		t.Errorf("limit %+v, want 800ms advertised", l)
	}
	if failures != 0 {
		t.Errorf("%d failures against an advertising server", failures)
	}
}
