package faults_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestSlowBackend is a slow backend: it answers after five times its idle
// timeout T (200ms), then gets a second, plain request at once. The idle
// limit (0.8T) is about connections sitting in the pool, never about a
// request waiting for its answer.
//
// Asserted for transport.New told T: both requests succeed with 200, each
// request id runs exactly once (no retry), and one connection is dialed:
// the idle limit did not close it under the slow request, and the second
// request reused it.
func TestSlowBackend(t *testing.T) {
	const (
		idle = 200 * time.Millisecond
		slow = 5 * idle
	)
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				b := testserver.Start(t, server, idle)
				slowURL := fmt.Sprintf("%s/?sleep=%d", b.URL, slow.Milliseconds())
				plainURL := b.URL.String() + "/"

				sides := []*client{bare(t), resilient(t, transport.WithBackendIdleTimeout(idle))}
				type outcome struct {
					status [2]int
					err    [2]error
					took   time.Duration // of the slow request
				}
				outcomes := make([]outcome, len(sides))
				var wg sync.WaitGroup
				for i, c := range sides {
					wg.Go(func() {
						o := &outcomes[i]
						ctx := context.Background()
						start := time.Now()
						o.status[0], o.err[0] = c.send(ctx, method, slowURL, c.name+"-slow")
						o.took = time.Since(start)
						o.status[1], o.err[1] = c.send(ctx, method, plainURL, c.name+"-next")
					})
				}
				wg.Wait()

				ledger := b.Ledger(t)
				for i, c := range sides {
					o := outcomes[i]
					t.Logf("%s (idle %v) %s %s: slow %s in %v, next %s; ran %d+%d, %d dials",
						server, idle, method, c.name, statusOrErr(o.status[0], o.err[0]), o.took.Round(time.Millisecond),
						statusOrErr(o.status[1], o.err[1]), ledger[c.name+"-slow"], ledger[c.name+"-next"], c.dials.Load())
				}

				ours, o := sides[1], outcomes[1]
				for i, id := range []string{"slow", "next"} {
					if o.err[i] != nil || o.status[i] != 200 {
						t.Errorf("resilient %s request: %s, want 200", id, statusOrErr(o.status[i], o.err[i]))
					}
					if got := ledger[ours.name+"-"+id]; got != 1 {
						t.Errorf("resilient %s request ran %d times, want 1", id, got)
					}
				}
				if o.err[0] == nil && o.took < slow {
					t.Errorf("resilient slow request answered in %v, before the backend's %v sleep: the scenario did not run", o.took, slow)
				}
				if d := ours.dials.Load(); d != 1 {
					t.Errorf("resilient dialed %d times, want 1: the connection was closed under the slow request or not reused", d)
				}
			})
		}
	})
}

// statusOrErr describes one request's outcome for a log line or a failure.
func statusOrErr(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(status)
}
