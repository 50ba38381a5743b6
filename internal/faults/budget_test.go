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
// Asserted, for GET: with the default retry budget (10 tokens, retries
// stop below half, each final answer returns 0.1), the backend sees at
// most the requests plus 5 + 0.1 per request retries; with an unlimited
// budget it sees every attempt the policy allows (3 per request), which is
// the storm the budget prevents. POSTs are never repeated. Every caller
// gets the backend's 503, not an error.
func TestWholesaleFailure(t *testing.T) {
	const (
		workers  = 8
		requests = 48
	)
	unlimited := transport.WithRetryBudget(retry.NewBudget(math.MaxInt32, 1))
	tests := []struct {
		name     string
		method   string
		opts     []transport.Option
		maxTotal int
		minTotal int
	}{
		{"default budget", http.MethodGet, nil, requests + 5 + requests/10 + 1, requests},
		{"unlimited budget", http.MethodGet, []transport.Option{unlimited}, 3 * requests, 3 * requests},
		{"default budget", http.MethodPost, nil, requests, requests},
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
					total := b.Total(t)
					t.Logf("%s %s %s %s: backend saw %d requests for %d sent; %d answered 503, %d errors",
						server, tt.method, tt.name, c.name, total, requests, seen.statuses[http.StatusServiceUnavailable], len(seen.errors))
					if c.name == "bare" {
						continue
					}
					if len(seen.errors) != 0 || seen.statuses[http.StatusServiceUnavailable] != requests {
						t.Errorf("resilient: %v, want every request answered 503", &seen)
					}
					if total < tt.minTotal || total > tt.maxTotal {
						t.Errorf("resilient: backend saw %d requests, want %d..%d", total, tt.minTotal, tt.maxTotal)
					}
				}
			})
		}
	})
}
