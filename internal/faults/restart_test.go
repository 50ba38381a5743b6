package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// pooled is how many connections each client holds to the backend when it
// goes away.
const pooled = 4

// warm fills c's pool with pooled connections: as many requests at once,
// each held by the backend for 100ms so that none can reuse another's
// connection. They return to the pool when answered.
func warm(t *testing.T, c *client, method, base, prefix string) {
	t.Helper()
	seen := burst(context.Background(), c, method, base+"/?sleep=100", prefix+"-warm")
	if seen.failed() != 0 {
		t.Fatalf("%s warm-up against a healthy backend: %v", c.name, seen)
	}
	if d := c.dials.Load(); d != pooled {
		t.Fatalf("%s warm-up dialed %d connections, want %d (one per concurrent request)", c.name, d, pooled)
	}
}

// side is one client of a scenario: "bare", or transport.New with opts.
type side struct {
	name string
	opts []transport.Option
}

// warmSides starts a watched client per side and warms its pool.
func warmSides(t *testing.T, method, base string, sides ...side) ([]*client, []*watch) {
	t.Helper()
	clients := make([]*client, len(sides))
	watches := make([]*watch, len(sides))
	for i, s := range sides {
		clients[i], watches[i] = watched(t, s.name, s.opts...)
		warm(t, clients[i], method, base, s.name)
	}
	return clients, watches
}

// burst sends pooled requests at once with ctx, ids prefix-0, prefix-1...,
// and returns what the caller saw.
func burst(ctx context.Context, c *client, method, url, prefix string) *tally {
	var (
		wg   sync.WaitGroup
		seen tally
	)
	for i := range pooled {
		wg.Go(func() { seen.add(c.send(ctx, method, url, fmt.Sprintf("%s-%d", prefix, i))) })
	}
	wg.Wait()
	return &seen
}

// runsOf returns the executions of ids prefix-0 .. prefix-(n-1) in that
// order, comma-separated for a log line, and which of them did not run
// exactly once.
func runsOf(ledger map[string]int, prefix string, n int) (runs string, notOnce []string) {
	var pairs []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		pairs = append(pairs, fmt.Sprint(ledger[id]))
		if ledger[id] != 1 {
			notOnce = append(notOnce, fmt.Sprintf("%s ran %d times", id, ledger[id]))
		}
	}
	return strings.Join(pairs, ","), notOnce
}

// ranTwice returns the ids with prefix that ran more than once.
func ranTwice(ledger map[string]int, prefix string) []string {
	var ids []string
	for id, n := range ledger {
		if strings.HasPrefix(id, prefix) && n > 1 {
			ids = append(ids, fmt.Sprintf("%s ran %d times", id, n))
		}
	}
	sort.Strings(ids)
	return ids
}

// watch counts a client's open connections: it wraps the base
// transport's dialer so that each connection reports when its reads end
// (the pool's pending read sees the backend's close) or it is closed.
type watch struct {
	open  atomic.Int64
	ended chan struct{} // one value per connection that ended
}

// watched is bare (name "bare") or resilient with opts, named name, with
// its connections watched.
func watched(t *testing.T, name string, opts ...transport.Option) (*client, *watch) {
	t.Helper()
	w := &watch{ended: make(chan struct{}, 64)}
	dials := new(atomic.Int64)
	base := countingBase(dials)
	dial := base.DialContext
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w.open.Add(1)
		return &watchedConn{Conn: conn, w: w}, nil
	}
	if name == "bare" {
		t.Cleanup(base.CloseIdleConnections)
		return &client{name: name, http: &http.Client{Transport: base}, dials: dials}, w
	}
	rt := transport.New(append([]transport.Option{transport.WithBase(base)}, opts...)...)
	t.Cleanup(rt.CloseIdleConnections)
	return &client{name: name, http: &http.Client{Transport: rt}, dials: dials}, w
}

// allEnded waits until every watched connection has ended, for at most
// 5s.
func (w *watch) allEnded(t *testing.T, name string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for w.open.Load() > 0 {
		select {
		case <-w.ended:
		case <-deadline:
			t.Fatalf("%s still sees %d connections open 5s after the backend stopped", name, w.open.Load())
		}
	}
}

type watchedConn struct {
	net.Conn
	w    *watch
	once sync.Once
}

func (c *watchedConn) end() {
	c.once.Do(func() {
		c.w.open.Add(-1)
		select {
		case c.w.ended <- struct{}{}:
		default:
		}
	})
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.end()
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.end()
	return c.Conn.Close()
}

// TestRestartWarmPool restarts the backend while every client holds
// pooled connections to it: each warms 4 (4 concurrent requests the
// backend holds 100ms), the backend process is killed, dropping all of
// them at once, and a new one listens on the same address (for nginx,
// nginx is restarted; its upstream keeps running). Then each client at
// once sends 4 concurrent requests with fresh ids. Whether a client has
// seen the closes by then is a race: a Go server is back within a
// millisecond and its connections are usually still pooled, node and
// nginx take long enough to start that they are gone.
//
// Asserted for transport.New with nothing configured: no GET fails, each
// runs exactly once, and at most 8 connections (2 per request) are dialed
// after the warm-up. A POST that met a connection the restart killed
// fails with a reset before headers on a reused connection (the library
// cannot prove the backend never read it) and never ran; any other POST
// succeeds and ran once. With the caller's opt-in (retry.StaleConnection
// and an Idempotency-Key the backend de-duplicates by), no POST fails,
// each runs exactly once, at most 8 dials. A POST never runs twice without
// opt-in, for any client. The bare transport's outcome is logged, not
// asserted; so are the connections still pooled when the requests went
// out and the idle limit ours derived from the closes.
func TestRestartWarmPool(t *testing.T) {
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				b := testserver.Start(t, server, time.Minute)
				base := b.URL.String()
				sides, watches := warmSides(t, method, base, side{"bare", nil}, side{"resilient", nil}, side{"opted-in", []transport.Option{optIn()}})
				optedIn := sides[2]

				b.Restart(t)

				pooledAtSend := make([]int64, len(sides))
				for i, w := range watches {
					pooledAtSend[i] = w.open.Load()
				}
				tallies := make([]*tally, len(sides))
				var wg sync.WaitGroup
				for i, c := range sides {
					wg.Go(func() { tallies[i] = burst(context.Background(), c, method, base+"/", c.name+"-after") })
				}
				wg.Wait()

				ledger := b.Ledger(t)
				for i, c := range sides {
					runs, _ := runsOf(ledger, c.name+"-after", pooled)
					line := fmt.Sprintf("%s %s %s after restart (%d of %d pooled connections not yet seen closed): %v, runs %s, %d dials after warm-up",
						server, method, c.name, pooledAtSend[i], pooled, tallies[i], runs, c.dials.Load()-pooled)
					if rt, ok := c.http.Transport.(*transport.Transport); ok {
						l := rt.IdleLimit(b.URL)
						line += fmt.Sprintf("; idle limit now %v (%v)", l.Timeout, l.Source)
					}
					t.Log(line)
					if method == http.MethodPost && c != optedIn {
						for _, id := range ranTwice(ledger, c.name+"-") {
							t.Errorf("%s POST %s: repeated without opt-in", c.name, id)
						}
					}
				}

				ours := sides[1]
				mustSucceed := []*client{optedIn}
				if method == http.MethodGet {
					mustSucceed = append(mustSucceed, ours)
				} else {
					lost := 0
					for _, err := range tallies[1].errors {
						var ae *transport.AttemptError
						if errors.As(err, &ae) && ae.Reused && ae.ResetBeforeHeaders() {
							lost++
							continue
						}
						t.Errorf("resilient POST failed other than on a killed pooled connection: %v", err)
					}
					if got, want := sumRuns(ledger, ours.name+"-after", pooled), pooled-lost; got != want {
						t.Errorf("resilient POST: %d executions for %d requests that succeeded, want one each and none for the %d lost", got, want, lost)
					}
				}
				for _, c := range mustSucceed {
					i := slices.Index(sides, c)
					if tallies[i].failed() != 0 {
						t.Errorf("%s after restart: %v, want no failure", c.name, tallies[i])
					}
					if _, notOnce := runsOf(ledger, c.name+"-after", pooled); len(notOnce) > 0 {
						t.Errorf("%s after restart: %s; want each once", c.name, strings.Join(notOnce, ", "))
					}
				}
				for _, c := range sides[1:] {
					if d := c.dials.Load() - pooled; d > 2*pooled {
						t.Errorf("%s dialed %d times after warm-up for %d requests, want at most %d", c.name, d, pooled, 2*pooled)
					}
				}
			})
		}
	})
}

// sumRuns returns the executions of ids prefix-0 .. prefix-(n-1).
func sumRuns(ledger map[string]int, prefix string, n int) int {
	sum := 0
	for i := range n {
		sum += ledger[fmt.Sprintf("%s-%d", prefix, i)]
	}
	return sum
}

// downPolicy is what a caller configures who would rather wait out a
// backend restart than fail: 10 attempts, backoff from 50ms doubling up to
// 500ms (about 3s of waiting in all).
func downPolicy() transport.Option {
	return transport.WithRetry(retry.Policy{
		MaxAttempts: 10,
		BackOff: func() backoff.BackOff {
			return backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(50*time.Millisecond),
				backoff.WithMaxInterval(500*time.Millisecond),
				backoff.WithMaxElapsedTime(0),
			)
		},
	})
}

// TestBackendDown stops the backend while every client holds 4 pooled
// connections to it and leaves its address without a listener, so that
// dials are refused. Once every client has seen its pooled connections
// close (a request on one it has not is TestRestartWarmPool's case), each
// sends 4 concurrent requests, and the backend is started again on the
// same address once one of ours has seen a dial refused.
//
// A refused dial provably never reached the server, so the default policy
// retries it even for a POST. Asserted for transport.New with downPolicy
// and a retry budget large enough for every attempt it allows: every
// request succeeds, each id runs exactly once, and at least one dial was
// refused (the requests did meet the backend down). A POST never runs
// twice, for any client. Logged, not asserted: the bare transport (its
// requests fail while the backend is down), and the same policy under the
// default retry budget, which is there to stop retries against a backend
// that fails everything and may end some of these requests first.
func TestBackendDown(t *testing.T) {
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				b := testserver.Start(t, server, time.Minute)
				base := b.URL.String()
				// A floor of 80 retries a second: room for the 9 retries of
				// each request. The default floor is 10 a second.
				ample := transport.WithRetryBudget(retry.NewBudget(0, 2*pooled*10, 0))
				sides, watches := warmSides(t, method, base,
					side{"bare", nil}, side{"resilient", []transport.Option{downPolicy(), ample}}, side{"default-budget", []transport.Option{downPolicy()}})
				ours := sides[1]

				b.Stop(t)
				for i, w := range watches {
					w.allEnded(t, sides[i].name)
				}

				refused := make([]atomic.Int64, len(sides))
				firstRefused := make(chan struct{})
				var once sync.Once
				tallies := make([]*tally, len(sides))
				var wg sync.WaitGroup
				for i, c := range sides {
					trace := &httptrace.ClientTrace{ConnectDone: func(_, _ string, err error) {
						if err == nil {
							return
						}
						refused[i].Add(1)
						if c == ours {
							once.Do(func() { close(firstRefused) })
						}
					}}
					ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 20*time.Second)
					defer cancel()
					wg.Go(func() { tallies[i] = burst(ctx, c, method, base+"/", c.name+"-down") })
				}
				select {
				case <-firstRefused:
				case <-time.After(10 * time.Second):
					t.Errorf("no dial of ours was refused within 10s of stopping the backend")
				}
				b.Start(t)
				wg.Wait()

				ledger := b.Ledger(t)
				for i, c := range sides {
					runs, _ := runsOf(ledger, c.name+"-down", pooled)
					t.Logf("%s %s %s while down: %v, runs %s, %d dials after warm-up (%d refused)",
						server, method, c.name, tallies[i], runs, c.dials.Load()-pooled, refused[i].Load())
					if method == http.MethodPost {
						for _, id := range ranTwice(ledger, c.name+"-") {
							t.Errorf("%s POST %s: repeated without opt-in", c.name, id)
						}
					}
				}
				if tallies[1].failed() != 0 {
					t.Errorf("resilient while down: %v, want no failure", tallies[1])
				}
				if _, notOnce := runsOf(ledger, ours.name+"-down", pooled); len(notOnce) > 0 {
					t.Errorf("resilient while down: %s; want each once", strings.Join(notOnce, ", "))
				}
				if refused[1].Load() == 0 {
					t.Errorf("resilient: no dial was refused: the backend was up before the requests met it")
				}
			})
		}
	})
}

// TestRestartTeachesNoIdleLimit restarts the backend while the client
// holds two pooled connections that went idle at different times (one
// idle for 300ms, one just used). Their closes arrive together: a timeout
// cannot do that, a restart does (the idle package's restart window). Asserted for
// transport.New: the backend's idle limit is the same after the restart
// as before it, not one learned from the closes.
func TestRestartTeachesNoIdleLimit(t *testing.T) {
	forEachServer(t, testserver.Names(), func(t *testing.T, server string) {
		b := testserver.Start(t, server, time.Minute)
		c, w := watched(t, "resilient")
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				if _, err := c.send(ctx, http.MethodGet, b.URL.String()+"/?sleep=100", fmt.Sprintf("warm-%d", i)); err != nil {
					t.Errorf("warm-up: %v", err)
				}
			})
		}
		wg.Wait()
		time.Sleep(300 * time.Millisecond) // the workload: both idle for 300ms
		if _, err := c.send(ctx, http.MethodGet, b.URL.String()+"/", "reuse"); err != nil {
			t.Fatalf("reuse: %v", err)
		}
		if d := c.dials.Load(); d != 2 {
			t.Fatalf("%d dials, want 2", d)
		}
		rt := c.http.Transport.(*transport.Transport)
		before := rt.IdleLimit(b.URL)

		b.Restart(t)
		w.allEnded(t, c.name)

		after := rt.IdleLimit(b.URL)
		t.Logf("%s: idle limit %v (%v) before the restart, %v (%v) after", server, before.Timeout, before.Source, after.Timeout, after.Source)
		if after != before {
			t.Errorf("the restart changed the idle limit from %+v to %+v", before, after)
		}
	})
}
