package transport

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Hostile review, round 2: the watched close counted from idleStart. The
// backend advertises Keep-Alive: timeout=1 and closes on time (a Go
// server, IdleTimeout 1 s). A response whose headers come 600 ms before
// the handler is done is retired at 800 ms of idle counted from its
// headers, watched, and the server's close is measured 1.6 s from them:
// more than 250 ms past the advertisement, so it is kept as a measured
// close and not taken for the advertised one, and less than 1.25 s above
// it, so the advertisement does not cap it. The limit must never exceed
// what the backend advertises and does.
func TestReview3WatchedCloseAboveAdvert(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	u := goServer(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=1")
		if r.URL.Path == "/slow" {
			_, _ = io.WriteString(w, "head")
			w.(http.Flusher).Flush()
			time.Sleep(600 * time.Millisecond) // the handler's work: the case itself
		}
		_, _ = io.WriteString(w, "ok")
	})
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)
	getConn(t, rt, u.String()+"/") // the advertisement
	c := getConn(t, rt, u.String()+"/slow")
	c.mu.Lock()
	limit, lead := c.limit, c.lead
	c.mu.Unlock()
	cause, ok := awaitClosedUnwatched(c, 5*time.Second)
	if !ok {
		t.Fatal("the connection was never closed")
	}
	l := rt.idle.Limit(c.key)
	t.Logf("armed %v counted from %v before the release; closed by %d; limit now %v (%s)", limit, lead.Round(time.Millisecond), cause, l.Timeout, l.Source)
	if l.Timeout > time.Second {
		t.Errorf("limit %v is above the advertised and real idle timeout of 1s", l.Timeout)
	}
}
