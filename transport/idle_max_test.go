package transport

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// Keep-Alive max=N is information only: a backend that advertises max=2
// but keeps its connections open has them reused, since closing one
// ourselves would race net/http handing it to the next request.
func TestIdleMaxRequestsIsInformation(t *testing.T) {
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=60, max=2")
	})
	var dials atomic.Int32
	rt := New(WithBase(countingBase(&dials)))
	t.Cleanup(rt.CloseIdleConnections)
	const requests = 6
	for i := range requests {
		if err := do(t, rt, http.MethodGet, u); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := dials.Load(); got != 1 {
		t.Fatalf("dials = %d, want 1: the connection stays open, so it is reused", got)
	}
	if l := rt.IdleLimit(u); l.MaxRequests != 2 {
		t.Fatalf("MaxRequests = %d, want 2", l.MaxRequests)
	}
}

// CloseIdleConnections closes every pooled connection, armed idle timers
// included, and the server sees each one go.
func TestCloseIdleConnectionsClosesTrackedConns(t *testing.T) {
	var open atomic.Int32
	closed := make(chan struct{}, 8)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed:
			open.Add(-1)
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	rt := New(WithBackendIdleTimeout(time.Hour)) // armed, far from firing
	for i := range 3 {
		if err := do(t, rt, http.MethodGet, u); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if open.Load() != 1 {
		t.Fatalf("server sees %d open connections, want 1", open.Load())
	}
	rt.CloseIdleConnections()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the pooled connection close")
	}
	if open.Load() != 0 {
		t.Fatalf("server sees %d open connections after CloseIdleConnections, want 0", open.Load())
	}
}
