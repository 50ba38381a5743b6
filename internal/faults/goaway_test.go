package faults_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestGoAwayInFlight is an HTTP/2 backend drained gracefully, as in a
// rolling restart, while requests are in flight: K requests that take
// 300ms run on one multiplexed connection when the drain begins, and M
// more are sent as it begins, racing the GOAWAY; those the client sends
// on the old connection before it reads the GOAWAY are ones the server
// never took. Go's http.Server is shut down and replaced on the same
// address; Node.js closes its sessions and keeps listening.
//
// Asserted for transport.New, with nothing configured: no request fails,
// every request id runs exactly once (the GOAWAY proves the racing ones
// unprocessed, so a POST is repeated too), the K requests share the
// warm-up connection, and each racing request dials at most once. Not
// fewer: until ALPN has said h2, net/http dials once per request that
// finds no connection, so M requests that find the old one draining may
// dial M new ones, on either side. The bare transport repeats a GET by itself but cannot
// repeat a POST whose body it already sent and that has no GetBody; it
// must never run one twice.
func TestGoAwayInFlight(t *testing.T) {
	const (
		inFlight = 4 // K: running when the drain begins
		racing   = 4 // M: sent as the drain begins
	)
	forEachServer(t, testserver.H2Names(), func(t *testing.T, server string) {
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				b := testserver.H2Backend(t, server)
				sides := []*client{bareH2(t, b.Cert), resilientH2(t, b.Cert)}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()

				// One connection per side, for the K requests to share.
				warm := make([]tally, len(sides))
				for i, c := range sides {
					warm[i].add(c.send(ctx, http.MethodGet, b.URL.String(), c.name+"-warm"))
				}

				seen := make([]tally, len(sides)) // in flight and racing
				var wg sync.WaitGroup
				var running []string
				for i, c := range sides {
					for k := range inFlight {
						id := fmt.Sprintf("%s-k%d", c.name, k)
						running = append(running, id)
						wg.Go(func() { seen[i].add(c.send(ctx, method, b.URL.String()+"/?sleep=300", id)) })
					}
				}
				waitRunning(t, b, running)
				for _, c := range sides {
					if d := c.dials.Load(); d != 1 {
						t.Fatalf("%s dialed %d times for the warm-up and %d requests in flight, want 1: they must share one connection", c.name, d, inFlight)
					}
				}
				b.Drain(t)
				for i, c := range sides {
					for m := range racing {
						id := fmt.Sprintf("%s-m%d", c.name, m)
						wg.Go(func() { seen[i].add(c.send(ctx, method, b.URL.String(), id)) })
					}
				}
				wg.Wait()

				ledger := b.Ledger(t)
				for i, c := range sides {
					t.Logf("%s %s %s: warm-up %v, in flight and racing %v, %d dials",
						server, method, c.name, &warm[i], &seen[i], c.dials.Load())
				}
				if ours := &seen[1]; warm[1].failed()+ours.failed() != 0 {
					t.Errorf("resilient: warm-up %v, in flight and racing %v, want no failure", &warm[1], ours)
				}
				for i, c := range sides {
					ids := []string{c.name + "-warm"}
					for k := range inFlight {
						ids = append(ids, fmt.Sprintf("%s-k%d", c.name, k))
					}
					for m := range racing {
						ids = append(ids, fmt.Sprintf("%s-m%d", c.name, m))
					}
					for _, id := range ids {
						got := ledger[id]
						if i == 1 && got != 1 {
							t.Errorf("resilient request %s ran %d times, want 1", id, got)
						}
						if i == 0 && method == http.MethodPost && got > 1 {
							t.Errorf("bare POST %s ran %d times: net/http repeated an unrewindable body", id, got)
						}
					}
				}
				if d := sides[1].dials.Load(); d > 1+racing {
					t.Errorf("resilient dialed %d times, want at most %d: one, and one per racing request", d, 1+racing)
				}
			})
		}
	})
}

// waitRunning returns once the backend has started every request id.
func waitRunning(t *testing.T, b *testserver.H2, ids []string) {
	t.Helper()
	for range 1000 {
		ledger := b.Ledger(t)
		all := true
		for _, id := range ids {
			all = all && ledger[id] > 0
		}
		if all {
			return
		}
		time.Sleep(2 * time.Millisecond) // polling the server's ledger
	}
	t.Fatalf("%s did not start all of %v", b.Name, ids)
}

// h2Base is countingBase speaking HTTP/2 to a server with cert.
func h2Base(dials *atomic.Int64, cert *testserver.Cert) *http.Transport {
	base := countingBase(dials)
	base.TLSClientConfig = &tls.Config{RootCAs: cert.Pool}
	base.ForceAttemptHTTP2 = true
	return base
}

// bareH2 is bare over HTTP/2: net/http's bundled HTTP/2.
func bareH2(t *testing.T, cert *testserver.Cert) *client {
	t.Helper()
	dials := new(atomic.Int64)
	rt := h2Base(dials, cert)
	t.Cleanup(rt.CloseIdleConnections)
	return &client{name: "bare", http: &http.Client{Transport: rt}, dials: dials}
}

// resilientH2 is transport.New over HTTP/2: x/net/http2, configured by New.
func resilientH2(t *testing.T, cert *testserver.Cert) *client {
	t.Helper()
	dials := new(atomic.Int64)
	rt := transport.New(transport.WithBase(h2Base(dials, cert)))
	t.Cleanup(rt.CloseIdleConnections)
	return &client{name: "resilient", http: &http.Client{Transport: rt}, dials: dials}
}
