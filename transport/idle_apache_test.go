package transport

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
)

// TestIdleApache: Apache httpd advertises its idle timeout only to a
// request that says Connection: keep-alive; the transport asks, so the
// limit is known from the first response, and requests spaced around the
// timeout then never fail.
func TestIdleApache(t *testing.T) {
	const T = time.Second
	b := testserver.ApacheBackend(t, T, 100)
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	if err := do(t, rt, http.MethodGet, b.URL); err != nil {
		t.Fatal(err)
	}
	l := rt.IdleLimit(b.URL)
	if l.Source != idle.SourceAdvertised || l.Timeout != 800*time.Millisecond {
		t.Fatalf("after the first response: limit %v from %v, want 800ms advertised", l.Timeout, l.Source)
	}
	const n = 5
	failures := spaced(t, rt, b.URL, T, n)
	t.Logf("apache T=%v: limit %v from %v, failures %d of %d, dials %d", T, l.Timeout, l.Source, failures, n, dials.Load())
	if failures != 0 {
		t.Errorf("%d of %d requests failed", failures, n)
	}
}

// TestAskKeepAlive: the transport adds Connection: keep-alive to its own
// copy of a request while the backend's advertisement is unknown, never to
// the caller's request, never over the caller's own Connection header or
// Close, and stops once the backend answered (here: by not advertising).
func TestAskKeepAlive(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header["Connection"], ","))
		mu.Unlock()
	})
	rt := New()
	t.Cleanup(rt.CloseIdleConnections)
	send := func(connection string, close bool) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		if connection != "" {
			req.Header.Set("Connection", connection)
		}
		req.Close = close
		before := len(req.Header)
		if err := doReq(rt, req); err != nil {
			t.Fatal(err)
		}
		if len(req.Header) != before || (connection == "" && req.Header.Get("Connection") != "") {
			t.Errorf("the caller's request was changed: %v", req.Header)
		}
	}
	send("", false)        // unknown: asked
	send("", false)        // answered without a header: not asked again
	send("upgrade", false) // the caller's own header stays
	send("", true)         // Close: net/http says close
	rt2 := New()           // a fresh transport asks again, unless told otherwise
	t.Cleanup(rt2.CloseIdleConnections)
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Connection", "close")
	if err := doReq(rt2, req); err != nil {
		t.Fatal(err)
	}
	want := []string{"keep-alive", "", "upgrade", "close", "close"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("Connection headers the server saw: %q, want %q", seen, want)
	}
}
