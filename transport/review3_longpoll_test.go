package transport

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile review, round 2 (cost). A long poll whose headers are flushed at
// once and whose body comes when there is news (SSE-like, or a Go handler
// that flushes early) makes the idle period count from the headers: a poll
// longer than the limit is released already past it and closed at once,
// so each poll dials, although the backend (IdleTimeout 1 s) keeps the
// connection idle for a second after each response and the next poll is
// sent at once. Three polls of 1.2 s under a configured 1 s (limit 800
// ms) must share one connection.
func TestReview3LongPollDialsEachTime(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	u := goServer(t, time.Second, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(1200 * time.Millisecond) // the poll's wait for news: the case itself
		_, _ = io.WriteString(w, "news")
	})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)), WithBackendIdleTimeout(time.Second))
	t.Cleanup(rt.CloseIdleConnections)
	for range 3 {
		getConn(t, rt, u.String())
	}
	t.Logf("3 back-to-back polls: %d dials", dials.Load())
	if dials.Load() != 1 {
		t.Errorf("3 back-to-back polls dialed %d times: each connection was closed as it was released", dials.Load())
	}
}
