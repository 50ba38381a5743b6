package transport

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Hostile review, round 2 (idleStart). A measured close (pooled or
// watched) is now counted from conn.idleSince = idleStart: the response's
// first data, or the last read that emptied the socket's buffer before
// more came. Both can lie well before the backend's idle clock starts
// (its last byte written), and then the measured close is LONGER than the
// backend's real idle timeout by the gap, and the learned limit lands
// above the real close.
//
// Each case: a Go server with IdleTimeout 1 s and no advertisement, a
// response whose first data comes gap before the handler is done; the
// pooled connection is left to the server's close (the client knows no
// limit), which the Transport measures. The Tracker's limit afterwards
// must not exceed the server's real 1 s.
func TestReview3IdleStartInflatesMeasuredClose(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	const idleTimeout = time.Second
	const gap = 600 * time.Millisecond // the backend's own pace: the case itself
	cases := []struct {
		name    string
		handler http.HandlerFunc
		req     func(url string) *http.Request
	}{
		{
			// Headers flushed (or the first 4 KB of a body, which the Go
			// server flushes by itself), then the handler works on.
			name: "flush-then-work",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "head")
				w.(http.Flusher).Flush()
				time.Sleep(gap)
				_, _ = io.WriteString(w, "tail")
			},
			req: func(u string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, u, nil)
				return r
			},
		},
		{
			// Expect: 100-continue: the 100 is the first data read, the
			// final response comes after the handler's work.
			name: "100-continue",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body) // sends the 100 Continue
				time.Sleep(gap)
				_, _ = io.WriteString(w, "done")
			},
			req: func(u string) *http.Request {
				r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("body"))
				r.Header.Set("Expect", "100-continue")
				return r
			},
		},
		{
			// A 103 Early Hints, then the final response after the work.
			name: "103-early-hints",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Link", "</a.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				time.Sleep(gap)
				_, _ = io.WriteString(w, "done")
			},
			req: func(u string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, u, nil)
				return r
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, idleAt := idleServer(t, idleTimeout, tc.handler)
			base := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
			rt := New(WithBase(base))
			t.Cleanup(rt.CloseIdleConnections)

			resp, err := rt.RoundTrip(tc.req(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			c := connOf(resp)
			drainBody(t, resp)
			released := time.Now()
			var serverIdle time.Time
			select {
			case serverIdle = <-idleAt:
			case <-time.After(5 * time.Second):
				t.Fatal("the server never went idle")
			}
			c.mu.Lock()
			lead := c.lead
			c.mu.Unlock()
			cause := awaitClose(c, 5*time.Second)
			l := learnedLimit(rt, c.key)
			t.Logf("server idle %v before the release; idle counted from %v before the release; closed by %d; learned limit %v (%s)",
				released.Sub(serverIdle).Round(time.Millisecond), lead.Round(time.Millisecond), cause, l.Timeout, l.Source)
			if l.Timeout > idleTimeout {
				t.Errorf("learned limit %v is above the server's real idle timeout %v: the close was measured from %v before the release, before the server's idle clock started",
					l.Timeout, idleTimeout, lead.Round(time.Millisecond))
			}
		})
	}
}
