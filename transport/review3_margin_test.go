package transport

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// Hostile review, round 2: a small inflation is enough once the margin
// applies. A Go server (IdleTimeout 1 s) whose handler writes 8 KB, works
// 150 ms, and writes the rest: the Go server flushes its first 4 KB by
// itself, so the idle period of each connection counts from 150 ms
// before the server's idle clock started. Three such connections (three
// clients sharing a Tracker), released about 150 ms apart, are closed by
// the server as far apart, measured about 1.15 s each: they agree, the margin (50 ms, a 64th, the spread,
// the round trip) replaces the ratio, and the limit lands near 1.08 s,
// above the server's 1 s.
func TestReview3AgreeingInflatedClosesBeatMargin(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	u := goServer(t, time.Second, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("a", 8<<10))
		time.Sleep(150 * time.Millisecond) // the handler's work: the case itself
		_, _ = io.WriteString(w, "end")
	})
	// Three clients sharing a Tracker, one request each, one after the
	// other: three connections released about 150 ms apart.
	tr := idle.NewTracker()
	conns := make([]*conn, 3)
	rts := make([]*Transport, 3)
	for i := range conns {
		rts[i] = New(WithIdleTracker(tr))
		t.Cleanup(rts[i].CloseIdleConnections)
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		resp, err := rts[i].RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = connOf(resp)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, c := range conns {
		if _, ok := awaitClosedUnwatched(c, 5*time.Second); !ok {
			t.Fatal("a connection was never closed")
		}
	}
	var leads []time.Duration
	for _, c := range conns {
		c.mu.Lock()
		leads = append(leads, c.lead.Round(time.Millisecond))
		c.mu.Unlock()
	}
	l := tr.Limit(conns[0].key)
	t.Logf("distinct connections %v; idle counted from %v before the releases; limit %v (%s)", conns[0] != conns[1] && conns[1] != conns[2], leads, l.Timeout, l.Source)
	if l.Timeout > time.Second {
		t.Errorf("limit %v above the server's 1s", l.Timeout)
	}
}
