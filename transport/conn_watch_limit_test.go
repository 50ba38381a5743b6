package transport

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/testserver"
)

// TestConnWatchReuseAtTheLimit puts the margin below a measured close to
// the test where random gaps seldom do: once New() has measured a real
// server's close three times (they agree, so the margin applies), every
// request is a POST sent when the connection has
// been idle for its limit less 2 ms, the latest moment it is reused. The
// server must still take each one: 0 failed, and almost all of them on
// the one connection. With no margin the server's close races these
// requests and POSTs fail.
func TestConnWatchReuseAtTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s")
	}
	const T = 250 * time.Millisecond
	var wg sync.WaitGroup
	for _, s := range testserver.IdleServers(T) {
		n := 40
		if s.Name == "node" {
			n = 12 // it closes a second later: fewer, longer waits
		}
		u := s.Start(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dials atomic.Int32
			rt := New(WithBase(countingBase(&dials)))
			defer rt.CloseIdleConnections()
			// Learn: three times a request, then idle past the close, so
			// that three closes are measured and agree.
			for range 3 {
				if err := do(t, rt, http.MethodGet, u); err != nil {
					t.Errorf("%s: %v", s.Name, err)
					return
				}
				time.Sleep(s.Close + 100*time.Millisecond)
			}
			if err := do(t, rt, http.MethodGet, u); err != nil {
				t.Errorf("%s: %v", s.Name, err)
				return
			}
			l := rt.IdleLimit(u)
			// The margin's limit, not the ratio's (200 ms and 1 s).
			if l.Source != idle.SourceObserved || l.Timeout >= s.Close-50*time.Millisecond || l.Timeout <= s.Close-100*time.Millisecond {
				t.Errorf("%s: limit %v from %v, want the measured close less its margin, in (%v, %v)", s.Name, l.Timeout, l.Source, s.Close-100*time.Millisecond, s.Close-50*time.Millisecond)
				return
			}
			before := dials.Load()
			failed := 0
			for i := range n {
				time.Sleep(rt.IdleLimit(u).Timeout - 2*time.Millisecond)
				if err := do(t, rt, http.MethodPost, u); err != nil {
					t.Logf("%s: POST %d: %v", s.Name, i, err)
					failed++
				}
			}
			dialed := dials.Load() - before
			t.Logf("%s: limit %v from %v; %d POSTs each at the limit less 2 ms: %d failed, %d dials", s.Name, l.Timeout, l.Source, n, failed, dialed)
			if failed != 0 {
				t.Errorf("%s: %d of %d POSTs failed", s.Name, failed, n)
			}
			// A POST that came after the limit closed the connection,
			// late by more than 2 ms under load, dials: safe, but few.
			if int(dialed) > n/2 {
				t.Errorf("%s: %d dials for %d POSTs at the limit: the limit did not keep the connection", s.Name, dialed, n)
			}
		}()
	}
	wg.Wait()
}
