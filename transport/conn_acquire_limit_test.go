package transport

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// TestAcquireLimitLoweredSincePooled: a connection pooled under a long
// limit, whose backend's limit came down after it was released (the
// Transport learned a shorter advertised timeout on another connection),
// is closed when a request takes it idle past the new limit, before a
// byte is written to it: the POST goes out once, on a new connection, and
// succeeds. The attempt that failed on the connection we closed teaches
// the Tracker nothing: it is not a stale connection of the backend's.
func TestAcquireLimitLoweredSincePooled(t *testing.T) {
	var (
		mu       sync.Mutex
		remotes  = map[string]string{} // path -> the client address it came from
		newConns atomic.Int32
		posts    atomic.Int32
	)
	holdA, holdB := make(chan struct{}), make(chan struct{})
	var onceA, onceB sync.Once
	finishA := func() { onceA.Do(func() { close(holdA) }) }
	finishB := func() { onceB.Do(func() { close(holdB) }) }
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		remotes[r.URL.Path] = r.RemoteAddr
		mu.Unlock()
		hold := map[string]chan struct{}{"/a": holdA, "/b": holdB}[r.URL.Path]
		switch {
		case r.URL.Path == "/short":
			w.Header().Set("Keep-Alive", "timeout=1")
		case r.Method == http.MethodPost:
			posts.Add(1)
		default:
			w.Header().Set("Keep-Alive", "timeout=10")
		}
		if hold != nil {
			// Headers now, the body once the test says: the connection
			// stays busy until then.
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = time.Minute
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(finishB)
	t.Cleanup(finishA)
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)

	// start sends a GET and returns its response, its body not yet read,
	// and the connection it came on.
	start := func(path string) (*http.Response, *conn) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp, connOf(resp)
	}

	// A and B, both busy; A is released first, under timeout=10.
	respA, a := start("/a")
	respB, b := start("/b")
	if a == b {
		t.Fatal("the second GET got the busy connection")
	}
	finishA()
	drainBody(t, respA)
	a.mu.Lock()
	limitA := a.limit
	a.mu.Unlock()
	if limitA < 7*time.Second || limitA > 8*time.Second {
		t.Fatalf("A pooled under a %v limit, want about 8s (timeout=10 at the ratio)", limitA)
	}
	finishB()
	drainBody(t, respB)
	// B, on top of the pool, learns timeout=1: the limit comes down to
	// about 800 ms (the ratio, less the round trip when the Tracker
	// leaves one) while A sits in the pool under its 8 s.
	respS, s := start("/short")
	drainBody(t, respS)
	if s != b {
		t.Fatal("/short did not go out on B, the connection pooled last")
	}
	newLimit := rt.IdleLimit(respS.Request.URL)
	if newLimit.Timeout < 500*time.Millisecond || newLimit.Timeout > 800*time.Millisecond || newLimit.Source != idle.SourceAdvertised {
		t.Fatalf("limit %+v after timeout=1, want about 800ms advertised", newLimit)
	}
	// B is retired at its new limit; A has then been idle longer.
	if awaitClose(b, 3*time.Second) == closedByNobody {
		t.Fatal("B was not closed at its new limit")
	}
	a.mu.Lock()
	idleA, stateA := time.Since(a.idleSince), a.state
	a.mu.Unlock()
	if stateA != connIdle || idleA >= limitA {
		t.Fatalf("A is in state %d after %v idle, want idle under its %v", stateA, idleA, limitA)
	}

	post, _ := http.NewRequest(http.MethodPost, srv.URL+"/post", strings.NewReader("once"))
	post.GetBody = nil // only our own retry path may send it again, and only unprocessed
	resp, err := rt.RoundTrip(post)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	c := connOf(resp)
	drainBody(t, resp)
	cause := closedBy(a)
	mu.Lock()
	postFrom, fromA, fromB := remotes["/post"], remotes["/a"], remotes["/b"]
	mu.Unlock()
	t.Logf("A idle %v under %v when the limit was %v; POST from %s (A %s, B %s); %d dials, %d connections at the server",
		idleA.Round(time.Millisecond), limitA, newLimit.Timeout, postFrom, fromA, fromB, dials.Load(), newConns.Load())
	checkRetiredForPOST(t, rt.Learned(), "A", cause, posts.Load())
	if c == a || postFrom == fromA {
		t.Error("the POST went out on A, idle past the backend's new limit")
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3: A, B, and one for the POST", n)
	}
	if n := newConns.Load(); n != 3 {
		t.Errorf("%d connections at the server, want 3", n)
	}
}

// TestAcquireLimitLoweredBySharedTracker: the same with a Tracker shared
// with another client, which teaches it the shorter timeout: this
// Transport's count of what it learned does not move, and a pooled
// connection asks the shared Tracker again when a request takes it.
func TestAcquireLimitLoweredBySharedTracker(t *testing.T) {
	var posts atomic.Int32
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.Header().Set("Keep-Alive", "timeout=10")
		_, _ = io.WriteString(w, "ok")
	})
	key := idle.Key(u)
	tr := idle.NewTracker()
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)), WithIdleTracker(tr))
	t.Cleanup(rt.CloseIdleConnections)

	first, err := sendTraced(t, rt, http.MethodGet, u.String(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := first.c
	a.mu.Lock()
	limitA := a.limit
	a.mu.Unlock()
	if limitA < 7*time.Second || limitA > 8*time.Second {
		t.Fatalf("pooled under a %v limit, want about 8s (timeout=10 at the ratio)", limitA)
	}
	version := rt.limitVersion.Load()
	// The other client's backend says timeout=1.
	tr.ObserveKeepAlive(key, []string{"timeout=1"})
	if l := tr.Limit(key); l.Timeout < 500*time.Millisecond || l.Timeout > 800*time.Millisecond {
		t.Fatalf("shared limit %+v, want about 800ms", l)
	}
	time.Sleep(850 * time.Millisecond) // the idle time under test
	got, err := sendTraced(t, rt, http.MethodPost, u.String(), strings.NewReader("once"), nil)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	cause := closedBy(a)
	t.Logf("POST on a new connection: %v; limit version %d before, %d after; %d dials", got.c != a, version, rt.limitVersion.Load(), dials.Load())
	checkRetiredForPOST(t, tr.Export(), "the pooled connection", cause, posts.Load())
	if got.c == a {
		t.Error("the POST went out on the connection idle past the shared Tracker's new limit")
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2", n)
	}
}

// staleEvidence returns the stale failures among what a Tracker learned.
func staleEvidence(learned []idle.Learned) []idle.Evidence {
	var ev []idle.Evidence
	for _, l := range learned {
		for _, e := range l.Evidence {
			if e.Kind == idle.EvidenceStale || e.Kind == idle.EvidenceStaleConfirmed {
				ev = append(ev, e)
			}
		}
	}
	return ev
}

// checkRetiredForPOST fails t unless the connection (named who) a POST
// was not to go out on was closed by its limit, the Tracker (learned)
// took that close for no stale connection of the backend's, and the
// server ran the POST (posts of them) once.
func checkRetiredForPOST(t *testing.T, learned []idle.Learned, who string, cause closeCause, posts int32) {
	t.Helper()
	if ev := staleEvidence(learned); len(ev) > 0 {
		t.Errorf("the Tracker took the connection we closed for a stale one: %+v", ev)
	}
	if cause != closedByLimit {
		t.Errorf("%s was closed by %d, want by its limit (%d)", who, cause, closedByLimit)
	}
	if posts != 1 {
		t.Errorf("the server ran %d POSTs, want 1", posts)
	}
}
