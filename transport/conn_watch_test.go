package transport

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
)

// TestConnWatchGoServerRaisesLimit: a Go server that advertises timeout=1 and
// closes idle connections at 1.5 s. The first connection, retired at 800
// ms, is watched; its close at about 1.5 s raises the limit to about 1.2 s
// (the ratio, until a second close agrees), and requests 1 s apart then
// reuse one connection, without a failure.
func TestConnWatchGoServerRaisesLimit(t *testing.T) {
	const closeAt = 1500 * time.Millisecond
	var served atomic.Int32
	u := goServer(t, closeAt, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Keep-Alive", "timeout=1")
	})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	if err := do(t, rt, http.MethodGet, u); err != nil {
		t.Fatal(err)
	}
	if l := rt.IdleLimit(u); l.Timeout != 800*time.Millisecond || l.Source != idle.SourceAdvertised {
		t.Fatalf("limit %+v, want 800ms advertised", l)
	}
	// Wait until the watch saw the server's close.
	deadline := time.Now().Add(5 * time.Second)
	for rt.IdleLimit(u).Source != idle.SourceObserved {
		if time.Now().After(deadline) {
			t.Fatalf("no watched close; limit %+v", rt.IdleLimit(u))
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := rt.IdleLimit(u)
	t.Logf("limit after the watch: %v from %v", l.Timeout, l.Source)
	if l.Timeout < 1100*time.Millisecond || l.Timeout > closeAt-50*time.Millisecond {
		t.Errorf("limit %v, want between 1.1s and %v", l.Timeout, closeAt-50*time.Millisecond)
	}
	before := dials.Load()
	failures := spaced(t, rt, u, time.Second, 5)
	t.Logf("dials: %d before, %d for 5 requests 1s apart; failures %d", before, dials.Load()-before, failures)
	if failures != 0 {
		t.Errorf("%d failures", failures)
	}
	if d := dials.Load() - before; d > 1 {
		t.Errorf("%d dials for 5 requests 1s apart under a %v limit, want 1 at most", d, l.Timeout)
	}
	if got := served.Load(); got != 6 {
		t.Errorf("server served %d requests, want 6", got)
	}
}

// TestConnWatchDetachedWritesNothing: a request handed a connection at the
// moment it was detached fails with nothing written, as on a closed
// socket, so nothing reaches the backend.
func TestConnWatchDetachedWritesNothing(t *testing.T) {
	var served atomic.Int32
	u := goServer(t, 0, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Keep-Alive", "timeout=1")
	})
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)
	nc, err := rt.tracking((&net.Dialer{}).DialContext)(t.Context(), "tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	got := nc.(*conn)
	got.mu.Lock()
	got.key, got.protoSeen, got.state, got.idleSince, got.limit, got.watchable = idle.Key(u), true, connIdle, time.Now(), 800*time.Millisecond, true
	got.closeLocked(closedByLimit)
	got.mu.Unlock()
	if !got.detached.Load() {
		t.Fatal("not detached")
	}
	n, err := got.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if n != 0 || err == nil {
		t.Fatalf("write on a detached conn: %d, %v", n, err)
	}
	if _, err := got.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a detached conn succeeded")
	}
	_ = got.Close()
	rt.CloseIdleConnections() // ends the watch, though the server never closes
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rt.watches.mu.Lock()
		left := len(rt.watches.m)
		rt.watches.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d watches still running after CloseIdleConnections", left)
		}
	}
	if s := served.Load(); s != 0 {
		t.Fatalf("server served %d requests", s)
	}
}

// TestConnWatchNode: Node.js with keepAliveTimeout 1000 advertises timeout=1
// and closes after 2 s. With requests 1 s ± 30 ms apart, New() dials
// like the bare transport once the first watch has seen the real close,
// and fails none.
func TestConnWatchNode(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s")
	}
	u := testserver.Node(t, time.Second)
	var ours, bare atomic.Int32
	rt := New(WithBase(countingBase(&ours)))
	t.Cleanup(rt.CloseIdleConnections)
	plain := countingBase(&bare)
	t.Cleanup(plain.CloseIdleConnections)
	const n, first = 30, 4
	var wg sync.WaitGroup
	var oursFirst, bareFirst int32
	var oursFailed, bareFailed int
	run := func(rt http.RoundTripper, dials *atomic.Int32, atFirst *int32, failed *int) {
		defer wg.Done()
		*failed += spaced(t, rt, u, time.Second, first)
		*atFirst = dials.Load()
		*failed += spaced(t, rt, u, time.Second, n-first)
	}
	wg.Add(2)
	go run(rt, &ours, &oursFirst, &oursFailed)
	go run(plain, &bare, &bareFirst, &bareFailed)
	wg.Wait()
	l := rt.IdleLimit(u)
	t.Logf("node, %d requests 1s±30ms apart: ours %d dials (%d after the first %d), %d failed; bare %d dials (%d after), %d failed; limit %v from %v",
		n, ours.Load(), ours.Load()-oursFirst, first, oursFailed, bare.Load(), bare.Load()-bareFirst, bareFailed, l.Timeout, l.Source)
	if oursFailed != 0 {
		t.Errorf("%d failed requests", oursFailed)
	}
	if after, bareAfter := ours.Load()-oursFirst, bare.Load()-bareFirst; float64(after) > float64(bareAfter)*1.1+1 {
		t.Errorf("%d dials after the first %d requests, bare transport %d", after, first, bareAfter)
	}
}
