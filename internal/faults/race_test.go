package faults_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/latency"
	"github.com/resilient-http/resilient/internal/testserver"
)

// TestIdleCloseRace is the seed failure: requests spaced around the time T
// after which the backend really closes an idle connection (measured; the
// backends are told 1s), from T+30ms down to T-30ms in 10ms steps, so
// that some reuse a connection the backend is closing. A relay adds 10ms
// of one-way latency, without which loopback delivers the backend's FIN
// too fast for the race to show.
//
// Asserted for transport.New, with nothing configured: no request fails,
// every request id runs exactly once, at most one dial per request. The
// silent Go server is learned from the first close it is seen making
// (the T+30ms gap); Node and nginx advertise T in Keep-Alive.
func TestIdleCloseRace(t *testing.T) {
	const (
		told   = time.Second
		oneWay = 10 * time.Millisecond
	)
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				b := testserver.Start(t, server, told)
				T := idleClose(t, b.URL.Host)
				var gaps []time.Duration
				for d := 30 * time.Millisecond; d >= -30*time.Millisecond; d -= 10 * time.Millisecond {
					gaps = append(gaps, T+d)
				}
				relay, err := latency.Start(b.URL.Host, oneWay)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = relay.Close() })
				url := "http://" + relay.Addr() + "/"

				sides := []*client{bare(t), resilient(t)}
				tallies := make([]tally, len(sides))
				var wg sync.WaitGroup
				for i, c := range sides {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						tallies[i].add(c.send(ctx, method, url, fmt.Sprintf("%s-0", c.name)))
						for n, gap := range gaps {
							time.Sleep(gap) // the workload: idle for gap, then reuse
							tallies[i].add(c.send(ctx, method, url, fmt.Sprintf("%s-%d", c.name, n+1)))
						}
					}()
				}
				wg.Wait()

				ledger := b.Ledger(t)
				for i, c := range sides {
					t.Logf("%s (closes idle after %v) %s %s: %v, %d dials", server, T.Round(time.Millisecond), method, c.name, &tallies[i], c.dials.Load())
				}
				ours := &tallies[1]
				if ours.failed() != 0 {
					t.Errorf("resilient: %v, want no failure", ours)
				}
				for n := range len(gaps) + 1 {
					if got := ledger[fmt.Sprintf("resilient-%d", n)]; got != 1 {
						t.Errorf("resilient request %d ran %d times, want 1", n, got)
					}
					if got := ledger[fmt.Sprintf("bare-%d", n)]; method == "POST" && got > 1 {
						t.Errorf("bare POST %d ran %d times: net/http repeated an unrewindable body", n, got)
					}
				}
				if d := sides[1].dials.Load(); d > int64(len(gaps)+1) {
					t.Errorf("resilient dialed %d times for %d requests", d, len(gaps)+1)
				}
			})
		}
	})
}
