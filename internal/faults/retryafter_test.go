package faults_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

// TestRetryAfter503 has the backend shed a request with 503 and a
// Retry-After, then serve it.
//
// Asserted for transport.New with the default policy: a GET waits as long
// as Retry-After says and gets the 200 (the backend ran it twice, which an
// idempotent request allows); a Retry-After longer than the policy's
// MaxRetryAfter (10s) is not waited for: the 503 comes back at once. A
// POST is never repeated: the caller gets the 503 and the backend ran it
// once.
func TestRetryAfter503(t *testing.T) {
	tests := []struct {
		method     string
		retryAfter string
		wantStatus int
		wantRuns   int
		minWait    time.Duration
		maxWait    time.Duration
	}{
		{http.MethodGet, "1", http.StatusOK, 2, time.Second, 5 * time.Second},
		{http.MethodGet, "60", http.StatusServiceUnavailable, 1, 0, 5 * time.Second},
		{http.MethodPost, "1", http.StatusServiceUnavailable, 1, 0, 5 * time.Second},
	}
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		b := testserver.Start(t, server, time.Minute)
		for _, tt := range tests {
			t.Run(tt.method+"/retry_after="+tt.retryAfter, func(t *testing.T) {
				t.Parallel()
				url := b.URL.String() + "/?status=503&fail=1&retry_after=" + tt.retryAfter
				for _, c := range []*client{bare(t), resilient(t)} {
					id := server + "-" + tt.method + "-" + tt.retryAfter + "-" + c.name
					start := time.Now()
					status, err := c.send(context.Background(), tt.method, url, id)
					took := time.Since(start)
					runs := b.Runs(t, id)
					t.Logf("%s %s Retry-After: %s %s: status %d, err %v, ran %d, took %v",
						server, tt.method, tt.retryAfter, c.name, status, err, runs, took.Round(time.Millisecond))
					if c.name == "bare" {
						continue
					}
					if err != nil || status != tt.wantStatus {
						t.Errorf("resilient: status %d, err %v; want %d", status, err, tt.wantStatus)
					}
					if runs != tt.wantRuns {
						t.Errorf("resilient: ran %d times, want %d", runs, tt.wantRuns)
					}
					if took < tt.minWait || took > tt.maxWait {
						t.Errorf("resilient took %v, want between %v and %v", took, tt.minWait, tt.maxWait)
					}
				}
			})
		}
	})
}
