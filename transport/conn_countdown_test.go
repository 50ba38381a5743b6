package transport

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

// countdownRun sends workers x perWorker GETs to u through rt, returning
// how many failed.
func countdownRun(t *testing.T, rt http.RoundTripper, u *url.URL, workers, perWorker int) (failed int64) {
	t.Helper()
	var f atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
				if err := doReq(rt, req); err != nil {
					if f.Add(1) <= 3 {
						t.Errorf("GET: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	return f.Load()
}

// TestMaxCountdownApache: Apache's Keep-Alive max counts down the requests
// left on each connection, and Apache closes the connection after the
// last. With 8 workers the transport dials within 10% of the bare
// transport (before max was kept per connection: 93 dials where the bare
// transport needed 23) and fails nothing. The two alternate, twice each,
// so that the machine's load falls on both alike.
func TestMaxCountdownApache(t *testing.T) {
	const workers, perWorker, maxRequests, rounds = 8, 100, 20, 2
	b := testserver.ApacheBackend(t, 5*time.Second, maxRequests)

	var bareDials, dials atomic.Int32
	// A pool as large as the workers, so that connections are closed by
	// Apache's count and not by the pool overflowing.
	bare, base := countingBase(&bareDials), countingBase(&dials)
	bare.MaxIdleConnsPerHost, base.MaxIdleConnsPerHost = workers, workers
	rt := New(WithBase(base))
	var failed int64
	for range rounds {
		if f := countdownRun(t, bare, b.URL, workers, perWorker); f != 0 {
			t.Fatalf("bare transport: %d failed", f)
		}
		bare.CloseIdleConnections()
		failed += countdownRun(t, rt, b.URL, workers, perWorker)
		rt.CloseIdleConnections()
	}
	t.Logf("%d requests: dials transport %d, bare %d; failed %d; limit %+v",
		rounds*workers*perWorker, dials.Load(), bareDials.Load(), failed, rt.IdleLimit(b.URL))
	if failed != 0 {
		t.Errorf("%d requests failed", failed)
	}
	if float64(dials.Load()) > 1.1*float64(bareDials.Load()) {
		t.Errorf("transport dialed %d times, bare %d: more than 10%% more", dials.Load(), bareDials.Load())
	}
}
