package faults_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/latency"
	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestIdleCloseRace is the seed failure: requests spaced around the time T
// after which the backend really closes an idle connection (measured; the
// backends are told 1s), from T+30ms down to T-30ms in 10ms steps, so
// that some reuse a connection the backend is closing. A relay adds 10ms
// of one-way latency, without which loopback delivers the backend's FIN
// too fast for the race to show. GETs and POSTs run side by side against
// one backend, each method through its own relay and clients, with ids
// that tell them apart in the ledger: the test mostly waits, and running
// them as separate subtests would take two of the few parallel slots.
//
// Asserted for transport.New, with nothing configured: no request fails,
// every request id runs exactly once, at most one dial per request. The
// silent Go server is learned from the first close it is seen making
// (the T+30ms gap); Node, nginx and Apache advertise T in Keep-Alive
// (Apache only when asked with Connection: keep-alive), so the limit is
// known, from the advertisement, once the first response is in.
func TestIdleCloseRace(t *testing.T) {
	const (
		told   = time.Second
		oneWay = 10 * time.Millisecond
	)
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		b := testserver.Start(t, server, told)
		T := idleClose(t, b.URL.Host)
		var gaps []time.Duration
		for d := 30 * time.Millisecond; d >= -30*time.Millisecond; d -= 10 * time.Millisecond {
			gaps = append(gaps, T+d)
		}
		type run struct {
			method  string
			url     *url.URL
			sides   []*client
			tallies []tally
			first   idle.Limit // ours, once its first response was in
		}
		runs := make([]*run, len(methods))
		for i, method := range methods {
			relay, err := latency.Start(b.URL.Host, oneWay)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = relay.Close() })
			u := &url.URL{Scheme: "http", Host: relay.Addr(), Path: "/"}
			runs[i] = &run{method: method, url: u, sides: []*client{bare(t), resilient(t)}, tallies: make([]tally, 2)}
		}

		var wg sync.WaitGroup
		for _, r := range runs {
			for i, c := range r.sides {
				wg.Go(func() {
					ctx := context.Background()
					id := func(n int) string { return fmt.Sprintf("%s-%s-%d", r.method, c.name, n) }
					r.tallies[i].add(c.send(ctx, r.method, r.url.String(), id(0)))
					if rt, ok := c.http.Transport.(*transport.Transport); ok {
						r.first = rt.IdleLimit(r.url)
					}
					for n, gap := range gaps {
						time.Sleep(gap) // the workload: idle for gap, then reuse
						r.tallies[i].add(c.send(ctx, r.method, r.url.String(), id(n+1)))
					}
				})
			}
		}
		wg.Wait()

		ledger := b.Ledger(t)
		for _, r := range runs {
			for i, c := range r.sides {
				t.Logf("%s (closes idle after %v) %s %s: %v, %d dials", server, T.Round(time.Millisecond), r.method, c.name, &r.tallies[i], c.dials.Load())
			}
			t.Logf("%s %s resilient: idle limit after the first response %v (%v)", server, r.method, r.first.Timeout, r.first.Source)
			if ours := &r.tallies[1]; ours.failed() != 0 {
				t.Errorf("%s resilient: %v, want no failure", r.method, ours)
			}
			for n := range len(gaps) + 1 {
				if got := ledger[fmt.Sprintf("%s-resilient-%d", r.method, n)]; got != 1 {
					t.Errorf("%s resilient request %d ran %d times, want 1", r.method, n, got)
				}
				if got := ledger[fmt.Sprintf("%s-bare-%d", r.method, n)]; r.method == "POST" && got > 1 {
					t.Errorf("bare POST %d ran %d times: net/http repeated an unrewindable body", n, got)
				}
			}
			if d := r.sides[1].dials.Load(); d > int64(len(gaps)+1) {
				t.Errorf("%s resilient dialed %d times for %d requests", r.method, d, len(gaps)+1)
			}
			if server != "go" && (r.first.Source != idle.SourceAdvertised || r.first.Timeout <= 0 || r.first.Timeout >= T) {
				t.Errorf("%s resilient: idle limit after the first response %v (%v), want one advertised, under the real close %v",
					r.method, r.first.Timeout, r.first.Source, T)
			}
		}
	})
}
