package transport

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowBodyReaderIdleClock: a backend's idle clock starts as it writes
// the response's last byte, and a response that fits the socket buffers
// is written as soon as the handler is done; a caller that reads it
// slowly releases the connection later. The idle limit must count from
// the last data read, so that the client still closes the connection
// before the backend does: here a Go server with IdleTimeout 1 s (limit
// 800 ms, configured), a 32 KB body drained 500 ms after the server went
// idle, and the client must close the pooled connection at its limit,
// before the server's close, 500 ms after the release.
func TestSlowBodyReaderIdleClock(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of real time")
	}
	srv, idleAt := idleServer(t, time.Second, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 32<<10))
	}))
	rt := New(WithBackendIdleTimeout(time.Second))
	t.Cleanup(rt.CloseIdleConnections)

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	c := connOf(resp)
	var serverIdle time.Time
	select {
	case serverIdle = <-idleAt: // the whole body sits in the socket buffers
	case <-time.After(5 * time.Second):
		t.Skip("the server never went idle before the body was read: socket buffers too small for the case")
	}
	time.Sleep(500 * time.Millisecond) // the caller's slow reading: the case itself, not a synchronisation
	drainBody(t, resp)
	released := time.Now()
	c.mu.Lock()
	limit, lead := c.limit, c.lead
	c.mu.Unlock()
	// The connection is closed by our limit or by the server: wait for
	// either (bounded), then see which.
	cause := awaitClose(c, 5*time.Second)
	t.Logf("server idle %v before the release; limit %v, counted from %v before the release; closed by %d after %v",
		released.Sub(serverIdle).Round(time.Millisecond), limit, lead.Round(time.Millisecond), cause, time.Since(released).Round(time.Millisecond))
	if lead < 400*time.Millisecond {
		t.Errorf("the idle period counts from %v before the release, want about 500ms (from the last data read)", lead)
	}
	if cause != closedByLimit {
		t.Errorf("the connection was closed by %d, want by its limit (%d), before the server's close", cause, closedByLimit)
	}
}

// TestStreamedBodyIdleClock: a body the backend streams over longer than
// the idle limit is not idle while it streams: the idle period counts
// from data that came after the client had emptied the socket's buffer,
// so the connection is pooled, not closed, and the next request reuses
// it.
func TestStreamedBodyIdleClock(t *testing.T) {
	if testing.Short() {
		t.Skip("a second and a half of real time")
	}
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		f := w.(http.Flusher)
		for range 15 {
			_, _ = io.WriteString(w, strings.Repeat("x", 512))
			f.Flush()
			time.Sleep(100 * time.Millisecond) // the backend's pace: the case itself
		}
	})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)), WithBackendIdleTimeout(time.Second))
	t.Cleanup(rt.CloseIdleConnections)

	c := getConn(t, rt, u.String()+"/stream")
	c.mu.Lock()
	lead, state := c.lead, c.state
	c.mu.Unlock()
	again := getConn(t, rt, u.String()+"/")
	t.Logf("streamed for 1.5s under an 800ms limit: idle counted from %v before the release; %d dials", lead.Round(time.Millisecond), dials.Load())
	if state != connIdle || lead > 200*time.Millisecond {
		t.Errorf("after the stream the connection is in state %d, idle counted from %v before the release; want pooled, counted from the last data", state, lead)
	}
	if again != c || dials.Load() != 1 {
		t.Errorf("the next request dialed (%d dials): the streamed connection was not reused", dials.Load())
	}
}
