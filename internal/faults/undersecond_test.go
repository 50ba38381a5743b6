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
// in 10ms steps (twice where T is under a second), through a relay adding
// 10ms of one-way latency so that the server's FIN can race a request, as
// in TestIdleCloseRace. The two servers run side by side in one test: it
// mostly waits, and two subtests would take two of the few parallel
// slots.
//
// Asserted for transport.New with nothing configured, per server: at most
// one POST fails (the bound for learning a limit under a second;
// the rule in force costs none), no POST runs twice, and the learned limit
// is under T once the run is over. The bare transport runs the same
// workload beside it; its failures and both sides' dials are logged.
func TestUnderSecondTimeout(t *testing.T) {
	t.Parallel()
	const (
		told   = 300 * time.Millisecond
		oneWay = 10 * time.Millisecond
	)
	type run struct {
		server  string
		b       *testserver.Backend
		T       time.Duration
		gaps    []time.Duration
		url     *url.URL
		sides   []*client
		tallies []tally
	}
	runs := []*run{
		{server: "apache", b: testserver.ApacheBackend(t, told, 100)},
		{server: "node", b: testserver.NodeBackend(t, told)},
	}
	for _, r := range runs {
		r.T = idleClose(t, r.b.URL.Host)
		// Twice for Apache; once for Node, whose close takes 1.3 s.
		passes := 2
		if r.T > time.Second {
			passes = 1
		}
		for range passes {
			for d := 30 * time.Millisecond; d >= -30*time.Millisecond; d -= 10 * time.Millisecond {
				r.gaps = append(r.gaps, r.T+d)
			}
		}
		relay, err := latency.Start(r.b.URL.Host, oneWay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = relay.Close() })
		r.url = &url.URL{Scheme: "http", Host: relay.Addr(), Path: "/"}
		r.sides = []*client{bare(t), resilient(t)}
		r.tallies = make([]tally, len(r.sides))
	}

	var wg sync.WaitGroup
	for _, r := range runs {
		for i, c := range r.sides {
			wg.Go(func() {
				ctx := context.Background()
				id := func(n int) string { return fmt.Sprintf("%s-%d", c.name, n) }
				r.tallies[i].add(c.send(ctx, http.MethodPost, r.url.String(), id(0)))
				for n, gap := range r.gaps {
					time.Sleep(gap) // the workload: idle for gap, then reuse
					r.tallies[i].add(c.send(ctx, http.MethodPost, r.url.String(), id(n+1)))
				}
			})
		}
	}
	wg.Wait()

	for _, r := range runs {
		ledger := r.b.Ledger(t)
		limit := r.sides[1].http.Transport.(*transport.Transport).IdleLimit(r.url)
		for i, c := range r.sides {
			t.Logf("%s (told %v, closes idle after %v) POST %s: %v, %d dials for %d requests",
				r.server, told, r.T.Round(time.Millisecond), c.name, &r.tallies[i], c.dials.Load(), len(r.gaps)+1)
			for _, id := range ranTwice(ledger, c.name+"-") {
				t.Errorf("%s %s POST %s", r.server, c.name, id)
			}
		}
		t.Logf("%s resilient: idle limit afterwards %v (%v)", r.server, limit.Timeout, limit.Source)
		if f := r.tallies[1].failed(); f > 1 {
			t.Errorf("%s resilient: %v, want at most one failed POST", r.server, &r.tallies[1])
		}
		if limit.Timeout <= 0 || limit.Timeout >= r.T {
			t.Errorf("%s resilient: idle limit afterwards %v (%v), want one under the real close %v", r.server, limit.Timeout, limit.Source, r.T)
		}
	}
}
