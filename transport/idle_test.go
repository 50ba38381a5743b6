package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// countingBase returns a base transport that counts its dials.
func countingBase(dials *atomic.Int32) *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, n, a)
	}}
}

func goServer(t *testing.T, idleTimeout time.Duration, h http.HandlerFunc) *url.URL {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.IdleTimeout = idleTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func do(t *testing.T, rt http.RoundTripper, method string, u *url.URL) error {
	t.Helper()
	req, _ := http.NewRequest(method, u.String(), strings.NewReader("x"))
	return doReq(rt, req)
}

// doReq sends req and reads the whole response.
func doReq(rt http.RoundTripper, req *http.Request) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// spaced sends n requests, alternating GET and POST, each after waiting
// around T (T-30ms .. T+30ms, deterministic spread).
func spaced(t *testing.T, rt http.RoundTripper, u *url.URL, T time.Duration, n int) (failures int) {
	t.Helper()
	for i := range n {
		time.Sleep(T - 30*time.Millisecond + time.Duration(i%7)*10*time.Millisecond)
		m := http.MethodGet
		if i%2 == 1 {
			m = http.MethodPost
		}
		if err := do(t, rt, m, u); err != nil {
			t.Logf("request %d (%s): %v", i, m, err)
			failures++
		}
	}
	return failures
}

func TestIdleAdvertisedGoServer(t *testing.T) {
	const T = 400 * time.Millisecond
	u := goServer(t, T, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=1")
	})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	if err := do(t, rt, http.MethodGet, u); err != nil {
		t.Fatal(err)
	}
	l := rt.IdleLimit(u)
	if l.Source != idle.SourceAdvertised || l.Timeout != 800*time.Millisecond {
		t.Fatalf("limit %+v, want 800ms advertised", l)
	}
}

func TestIdleSilentGoServerLearns(t *testing.T) {
	const T = 400 * time.Millisecond
	u := goServer(t, T, func(http.ResponseWriter, *http.Request) {})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	const n = 12
	if err := do(t, rt, http.MethodGet, u); err != nil {
		t.Fatal(err)
	}
	failures := spaced(t, rt, u, T, n)
	l := rt.IdleLimit(u)
	t.Logf("silent Go server T=%v: limit %v from %v, failures %d of %d, dials %d", T, l.Timeout, l.Source, failures, n, dials.Load())
	if l.Source != idle.SourceObserved {
		t.Fatalf("source %v, want observed", l.Source)
	}
	if lo, hi := 0.8*0.7*float64(T), 0.8*1.15*float64(T); float64(l.Timeout) < lo || float64(l.Timeout) > hi {
		t.Errorf("limit %v not near 0.8T=%v", l.Timeout, 8*T/10)
	}
	if failures > 2 {
		t.Errorf("%d failures, want at most 2 before the limit is learned", failures)
	}
	if d := dials.Load(); d > n+1 {
		t.Errorf("%d dials for %d requests", d, n+1)
	}
}

func TestIdleConfiguredLimitClosesFirst(t *testing.T) {
	const T = 300 * time.Millisecond
	u := goServer(t, T, func(http.ResponseWriter, *http.Request) {})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)), WithHostIdleTimeout(u.Host, T))
	t.Cleanup(rt.CloseIdleConnections)
	if l := rt.IdleLimit(u); l.Source != idle.SourceConfigured || l.Timeout != 240*time.Millisecond {
		t.Fatalf("limit %+v", l)
	}
	if f := spaced(t, rt, u, T, 8); f != 0 {
		t.Errorf("%d failures with a configured limit", f)
	}
}

func TestIdleNeverClosesBusyConnection(t *testing.T) {
	const limit = 50 * time.Millisecond
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * limit / 4 * 4)
		_, _ = io.WriteString(w, "late")
	})
	rt := New(WithBackendIdleTimeout(limit), WithIdleRatio(1))
	t.Cleanup(rt.CloseIdleConnections)
	for range 2 { // the second request reuses the conn whose timer ran before
		if err := do(t, rt, http.MethodPost, u); err != nil {
			t.Fatalf("slow backend failed: %v", err)
		}
	}
}
