package transport

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

// TestConnWatchRandomGaps compares, against real servers with a 1 s idle
// setting, the dials of New() with those of a bare transport that knew
// each server's real close (IdleConnTimeout 50 ms before it), under the
// same seeded exponential gaps, mean half the server's timeout. It logs
// the numbers and fails only on a failed request of ours.
func TestConnWatchRandomGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s")
	}
	const T = time.Second
	servers := []struct {
		name  string
		url   func(t *testing.T) *url.URL
		close time.Duration // when the server really closes an idle connection
	}{
		{"go", func(t *testing.T) *url.URL { return testserver.GoBackend(t, T).URL }, T},
		{"nginx", func(t *testing.T) *url.URL { return testserver.Nginx(t, T, true) }, T},
		{"apache", func(t *testing.T) *url.URL { return testserver.ApacheBackend(t, T, 0).URL }, T},
		{"node", func(t *testing.T) *url.URL { return testserver.Node(t, T) }, 2 * T},
	}
	const n, seed = 40, 11
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			u := s.url(t)
			var ours, oracle atomic.Int32
			rt := New(WithBase(countingBase(&ours)))
			t.Cleanup(rt.CloseIdleConnections)
			knew := countingBase(&oracle)
			knew.IdleConnTimeout = s.close - 50*time.Millisecond
			t.Cleanup(knew.CloseIdleConnections)
			var wg sync.WaitGroup
			var oursFailed, oracleFailed int
			run := func(rt http.RoundTripper, failed *int) {
				defer wg.Done()
				gaps := rand.New(rand.NewPCG(seed, 0))
				for i := range n {
					time.Sleep(time.Duration(gaps.ExpFloat64() * float64(T/2)))
					if err := do(t, rt, http.MethodGet, u); err != nil {
						t.Logf("request %d: %v", i, err)
						*failed++
					}
				}
			}
			wg.Add(2)
			go run(rt, &oursFailed)
			go run(knew, &oracleFailed)
			wg.Wait()
			l := rt.IdleLimit(u)
			t.Logf("%s: %d requests, exponential gaps mean %v (seed %d): ours %d dials, %d failed (limit %v from %v); knowing the close at %v: %d dials, %d failed",
				s.name, n, T/2, seed, ours.Load(), oursFailed, l.Timeout, l.Source, s.close, oracle.Load(), oracleFailed)
			if oursFailed != 0 {
				t.Errorf("%d failed requests", oursFailed)
			}
		})
	}
}
