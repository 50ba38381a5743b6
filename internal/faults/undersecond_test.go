package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/latency"
	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestUnderSecondTimeout is the idle package's timeout=0 rule against the
// two servers that write it: Apache with KeepAliveTimeout 300ms (closes
// at 300 ms) and Node.js with keepAliveTimeout 300 (closes at 1.3 s), both
// advertising Keep-Alive: timeout=0. POSTs whose bodies cannot be rewound
// (so net/http repeats none) are spaced around the time T the server
// really closes an idle connection (measured), from T+30ms down to T-30ms
// in 10ms steps (twice where T is under a second), through a relay adding 10ms of one-way latency so
// that the server's FIN can race a request, as in TestIdleCloseRace.
//
// Asserted for transport.New with nothing configured: at most one POST
// fails (the bound for learning a limit under a second; the rule
// in force costs none), no POST runs twice, and the learned limit is under
// T once the run is over. The bare transport runs the same workload beside
// it; its failures and both sides' dials are logged.
func TestUnderSecondTimeout(t *testing.T) {
	const (
		told   = 300 * time.Millisecond
		oneWay = 10 * time.Millisecond
	)
	start := map[string]func(t *testing.T) *testserver.Backend{
		"apache": func(t *testing.T) *testserver.Backend { return testserver.ApacheBackend(t, told, 100) },
		"node":   func(t *testing.T) *testserver.Backend { return testserver.NodeBackend(t, told) },
	}
	forEachServer(t, []string{"apache", "node"}, func(t *testing.T, server string) {
		b := start[server](t)
		T := idleClose(t, b.URL.Host)
		// Twice for Apache; once for Node, whose close takes 1.3 s.
		passes := 2
		if T > time.Second {
			passes = 1
		}
		var gaps []time.Duration
		for range passes {
			for d := 30 * time.Millisecond; d >= -30*time.Millisecond; d -= 10 * time.Millisecond {
				gaps = append(gaps, T+d)
			}
		}
		relay, err := latency.Start(b.URL.Host, oneWay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = relay.Close() })
		u := &url.URL{Scheme: "http", Host: relay.Addr(), Path: "/"}

		sides := []*client{bare(t), resilient(t)}
		tallies := make([]tally, len(sides))
		var wg sync.WaitGroup
		for i, c := range sides {
			wg.Go(func() {
				ctx := context.Background()
				id := func(n int) string { return fmt.Sprintf("%s-%d", c.name, n) }
				tallies[i].add(c.send(ctx, http.MethodPost, u.String(), id(0)))
				for n, gap := range gaps {
					time.Sleep(gap) // the workload: idle for gap, then reuse
					tallies[i].add(c.send(ctx, http.MethodPost, u.String(), id(n+1)))
				}
			})
		}
		wg.Wait()

		ledger := b.Ledger(t)
		limit := sides[1].http.Transport.(*transport.Transport).IdleLimit(u)
		for i, c := range sides {
			t.Logf("%s (told %v, closes idle after %v) POST %s: %v, %d dials for %d requests",
				server, told, T.Round(time.Millisecond), c.name, &tallies[i], c.dials.Load(), len(gaps)+1)
			for _, id := range ranTwice(ledger, c.name+"-") {
				t.Errorf("%s POST %s ran twice", c.name, id)
			}
		}
		t.Logf("%s resilient: idle limit afterwards %v (%v)", server, limit.Timeout, limit.Source)
		if f := tallies[1].failed(); f > 1 {
			t.Errorf("resilient: %v, want at most one failed POST", &tallies[1])
		}
		if limit.Timeout <= 0 || limit.Timeout >= T {
			t.Errorf("resilient: idle limit afterwards %v (%v), want one under the real close %v", limit.Timeout, limit.Source, T)
		}
	})
}
