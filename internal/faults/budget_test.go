package faults_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestWholesaleFailure has the backend answer 503 to everything, as an
// overloaded one does, while 8 workers send 48 requests. Retries must not
// multiply its load: the backend counts the requests it saw.
//
// Asserted, for GET: with the default retry budget (0.2 retries per
// request, plus a floor of 10 retries in any second), the backend sees at
// most the requests x 1.2 plus 10 for every second the run touches; with
// an unlimited budget it sees every attempt the policy allows (3 per
// request), which is the storm the budget prevents. POSTs are never
// repeated. Every caller gets the backend's 503, not an error.
func TestWholesaleFailure(t *testing.T) {
	const (
		workers  = 8
		requests = 48
	)
	unlimited := transport.WithRetryBudget(retry.NewBudget(10, 1000, time.Second))
	tests := []struct {
		name     string
		method   string
		opts     []transport.Option
		maxTotal func(time.Duration) int // for a run that lasted this long
		minTotal int
	}{
		{"default budget", http.MethodGet, nil, floorBound(requests), requests},
		{"unlimited budget", http.MethodGet, []transport.Option{unlimited}, exactly(3 * requests), 3 * requests},
		{"default budget", http.MethodPost, nil, exactly(requests), requests},
	}
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		for _, tt := range tests {
			t.Run(tt.method+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				for _, c := range []*client{bare(t), resilient(t, tt.opts...)} {
					b := testserver.Start(t, server, time.Minute)
					url := b.URL.String() + "/?status=503"
					var seen tally
					var wg sync.WaitGroup
					start := time.Now()
					for w := range workers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := w; i < requests; i += workers {
								seen.add(c.send(context.Background(), tt.method, url, fmt.Sprint(i)))
							}
						}()
					}
					wg.Wait()
					took := time.Since(start)
					total := b.Total(t)
					t.Logf("%s %s %s %s: backend saw %d requests for %d sent in %s (bound %d); %d answered 503, %d errors",
						server, tt.method, tt.name, c.name, total, requests, took.Round(time.Millisecond), tt.maxTotal(took),
						seen.statuses[http.StatusServiceUnavailable], len(seen.errors))
					if c.name == "bare" {
						continue
					}
					if len(seen.errors) != 0 || seen.statuses[http.StatusServiceUnavailable] != requests {
						t.Errorf("resilient: %v, want every request answered 503", &seen)
					}
					if total < tt.minTotal || total > tt.maxTotal(took) {
						t.Errorf("resilient: backend saw %d requests in %s, want %d..%d", total, took, tt.minTotal, tt.maxTotal(took))
					}
				}
			})
		}
	})
}

// floorBound is the most a backend failing wholesale may see from the
// default budget, for requests sent over a run of d: the requests, 0.2
// retries per request, and the floor's 10 retries in any second, for each
// second the run touches.
func floorBound(requests int) func(time.Duration) int {
	return func(d time.Duration) int {
		return requests + requests/5 + 10*int(math.Ceil(d.Seconds()))
	}
}

// exactly is a bound that does not depend on the run's length.
func exactly(n int) func(time.Duration) int {
	return func(time.Duration) int { return n }
}
