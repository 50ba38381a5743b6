package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/latency"
)

// slowDialer returns a base transport whose dialer waits d before it
// dials, as a TCP connect waits a round trip (a local relay accepts at
// once), and counts its dials.
func slowDialer(d time.Duration, dials *atomic.Int32) *http.Transport {
	nd := &net.Dialer{}
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		select {
		case <-time.After(d): // the connect's round trip being simulated, not synchronisation
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nd.DialContext(ctx, network, addr)
	}}
}

// traced is what sendTraced saw of a request.
type traced struct {
	c       *conn         // the connection it went out on (nil when it failed)
	reused  bool          // of the last connection it got
	idleFor time.Duration // of the last connection it got
	conns   int           // connections it got: more than one, sent again
}

// sendTraced sends a request with no GetBody (a POST on a stale connection
// fails, never sent again) and reads its whole response, so that the
// connection is released by the time it returns. The response must have a
// body. hdr is added to the request's header.
func sendTraced(t *testing.T, rt *Transport, method, url string, body io.Reader, hdr http.Header) (traced, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = nil
	for k, v := range hdr {
		req.Header[k] = v
	}
	var s traced
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { s.reused, s.idleFor, s.conns = info.Reused, info.IdleTime, s.conns+1 },
	}))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	b, ok := resp.Body.(*attemptBody)
	if !ok {
		t.Fatalf("response body %T, want *attemptBody", resp.Body)
	}
	if a := b.a.Load(); a != nil {
		s.c = a.conn
	}
	if s.c == nil {
		t.Fatal("no tracked connection under the response")
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return s, err
}

// TestConnReportsConnectTime: a connection the Transport dials is timed,
// and the time is reported to the Tracker once, through the learn path
// (the version moves, so that pooled connections ask for their limits
// again), when the connection's first attempt names its backend: the
// Tracker's limit is then that of a Tracker told that connect time once,
// directly, which leaves the round trip off a configured timeout at ratio
// 1.
func TestConnReportsConnectTime(t *testing.T) {
	const connect = 30 * time.Millisecond
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	key := idle.Key(u)
	tr := idle.NewTracker()
	tr.Configured, tr.Ratio = 2*time.Second, 1 // at ratio 1, the round trip alone comes off
	var dials atomic.Int32
	rt := New(WithBase(slowDialer(connect, &dials)), WithIdleTracker(tr))
	t.Cleanup(rt.CloseIdleConnections)

	// The caller's own Connection header: no Keep-Alive ask, and so
	// nothing else learned from the response.
	hdr := http.Header{"Connection": {"keep-alive"}}
	get := func() traced {
		t.Helper()
		s, err := sendTraced(t, rt, http.MethodGet, u.String(), nil, hdr)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	c := get().c
	c.mu.Lock()
	took := c.dialTook
	c.mu.Unlock()
	t.Logf("connect took %v", took)
	if took < connect || took >= time.Second {
		t.Fatalf("the connection's connect time is %v, want at least the dialer's %v", took, connect)
	}
	if v := rt.limitVersion.Load(); v != 1 {
		t.Fatalf("limit version %d after one request on a new connection, want 1: its connect time, learned", v)
	}
	// What a Tracker told nothing, the connect time once, and twice holds.
	ref := func(times int) idle.Limit {
		r := idle.NewTracker()
		r.Configured, r.Ratio = tr.Configured, tr.Ratio
		r.Limit(key)
		for range times {
			r.ObserveConnect(key, took)
		}
		return r.Limit(key)
	}
	none, once, twice := ref(0), ref(1), ref(2)
	got := tr.Limit(key)
	t.Logf("limit %v; a Tracker told the connect time once: %v, twice: %v, never: %v", got.Timeout, once.Timeout, twice.Timeout, none.Timeout)
	if once == none || once == twice {
		t.Fatalf("the Tracker's limit does not tell the round trip reported once (%v) from none (%v) or twice (%v): the test proves nothing", once, none, twice)
	}
	if got != once {
		t.Errorf("the Tracker's limit is %+v, want %+v: that of a Tracker told the connect time once", got, once)
	}

	// The same connection again: nothing more to report of it, and only
	// a reuse after an idle time that counts teaches.
	second := get()
	idleFor := second.idleFor
	if second.c != c {
		t.Fatal("the second request did not reuse the connection")
	}
	wantV := uint64(1)
	if idleFor >= minReuseEvidence {
		wantV++
	}
	if v := rt.limitVersion.Load(); v != wantV {
		t.Errorf("limit version %d after a reuse idle for %v, want %d: the connect time is reported once", v, idleFor, wantV)
	}
	if got := tr.Limit(key); got != once {
		t.Errorf("the Tracker's limit is %+v after a reuse, want %+v: the connect time is reported once", got, once)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

// TestConnRoundTripInLimit: a Go server that closes idle connections at 1
// s, 80 ms away (40 ms each way through a relay, and a connect that takes
// a round trip). The server's idle clock starts about when the client
// releases the connection, and a request sent at the limit reaches the
// server a round trip later on that clock; the limit learned from the
// server's measured closes must leave that round trip to spare. Once the
// limit has settled, POSTs (with no GetBody: a stale reuse fails rather
// than being sent again) each sent on a connection idle for the limit
// less 2 ms all succeed.
func TestConnRoundTripInLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("about 30 s")
	}
	const (
		serverIdle = time.Second
		oneWay     = 40 * time.Millisecond
		posts      = 25
		early      = 2 * time.Millisecond // sent this long before the limit
	)
	var served, postsServed atomic.Int32
	srvURL := goServer(t, serverIdle, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		served.Add(1)
		if r.Method == http.MethodPost {
			postsServed.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	})
	relay, err := latency.Start(srvURL.Host, oneWay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	u := &url.URL{Scheme: "http", Host: relay.Addr(), Path: "/"}
	key := idle.Key(u)

	tr := idle.NewTracker()
	var dials atomic.Int32
	rt := New(WithBase(slowDialer(2*oneWay, &dials)), WithIdleTracker(tr))
	t.Cleanup(rt.CloseIdleConnections)

	// Settle: each round sends a GET on a new connection and waits for the
	// server to close it, pooled (no limit known yet) or retired at the
	// limit and watched; the Tracker learns the close each time. Settled
	// once the limit is observed and moved by 10 ms at most in a round.
	start := time.Now()
	var prev time.Duration
	path := []string{}
	for round := 1; ; round++ {
		if round > 15 || time.Since(start) > 30*time.Second {
			t.Fatalf("the limit did not settle in %d rounds, %v: %s", round-1, time.Since(start).Round(time.Millisecond), strings.Join(path, " "))
		}
		got, err := sendTraced(t, rt, http.MethodGet, u.String(), nil, nil)
		c := got.c
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// The server closes the connection about a second after its
		// release; the watch ends with it.
		if _, ok := awaitClosedUnwatched(c, 3*time.Second); !ok {
			t.Fatalf("round %d: the server did not close the connection", round)
		}
		l := tr.Limit(key)
		path = append(path, l.Timeout.Round(time.Millisecond).String()+"/"+l.Source.String())
		if round >= 3 && l.Source == idle.SourceObserved && (l.Timeout-prev).Abs() <= 10*time.Millisecond {
			break
		}
		prev = l.Timeout
	}
	settled := tr.Limit(key)
	settleDials := dials.Load()
	t.Logf("limit settled at %v (%v) in %v, %d dials; path: %s", settled.Timeout, settled.Source,
		time.Since(start).Round(time.Millisecond), settleDials, strings.Join(path, " "))

	// POSTs, one connection at a time, each idle for the limit less 2 ms.
	var failed, reusedN int
	var c *conn
	var last time.Duration
	var postPath []string // the limit before each POST, when it moved
	for i := range posts {
		if c == nil {
			// A connection to reuse: after a failure, a new one.
			got, err := sendTraced(t, rt, http.MethodGet, u.String(), nil, nil)
			if err != nil {
				t.Fatalf("GET before POST %d: %v", i, err)
			}
			c = got.c
		}
		limit := tr.Limit(key).Timeout
		if limit != last {
			postPath = append(postPath, fmt.Sprintf("%d:%v", i, limit.Round(time.Millisecond)))
			last = limit
		}
		c.mu.Lock()
		since := c.idleSince
		c.mu.Unlock()
		time.Sleep(time.Until(since.Add(limit - early))) // the idle time under test
		got, err := sendTraced(t, rt, http.MethodPost, u.String(), strings.NewReader("once"), nil)
		c = got.c
		if got.reused && got.conns == 1 {
			reusedN++
		}
		if err != nil {
			failed++
			t.Logf("POST %d (limit %v; got %d connections, the last reused %v after %v): %v", i, limit, got.conns, got.reused, got.idleFor.Round(time.Microsecond), err)
		}
	}
	final := tr.Limit(key)
	t.Logf("%d POSTs at the limit less %v: %d failed, %d on the connection they got first, reused; limit %v (%v) at the end, before POST n: %s; %d dials for them; %d requests served",
		posts, early, failed, reusedN, final.Timeout, final.Source, strings.Join(postPath, " "), dials.Load()-settleDials, served.Load())
	t.Logf("the server closes at %v of idle, %v away: a request sent at the settled limit reaches it at about %v on its idle clock",
		serverIdle, 2*oneWay, settled.Timeout+2*oneWay)
	if failed != 0 {
		t.Errorf("%d of %d POSTs failed: the limit %v leaves less than the round trip (%v) below the server's close (%v)",
			failed, posts, settled.Timeout, 2*oneWay, serverIdle)
	}
	if n := postsServed.Load(); int(n) > posts {
		t.Errorf("the server ran %d POSTs, %d sent", n, posts)
	}
	if reusedN < posts/2 {
		t.Errorf("only %d of %d POSTs went out on the connection they got, reused idle near the limit: the test proves little", reusedN, posts)
	}
}
