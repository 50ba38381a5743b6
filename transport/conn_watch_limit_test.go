package transport

import (
	"net/http"
	"net/url"
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
	servers := []struct {
		name  string
		url   func(t *testing.T) *url.URL
		close time.Duration
		n     int
	}{
		{"go", func(t *testing.T) *url.URL { return testserver.GoBackend(t, T).URL }, T, 40},
		{"nginx", func(t *testing.T) *url.URL { return testserver.Nginx(t, T, true) }, T, 40},
		{"apache", func(t *testing.T) *url.URL { return testserver.ApacheBackend(t, T, 0).URL }, T, 40},
		{"node", func(t *testing.T) *url.URL { return testserver.Node(t, T) }, T + time.Second, 12},
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		u := s.url(t)
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
					t.Errorf("%s: %v", s.name, err)
					return
				}
				time.Sleep(s.close + 100*time.Millisecond)
			}
			if err := do(t, rt, http.MethodGet, u); err != nil {
				t.Errorf("%s: %v", s.name, err)
				return
			}
			l := rt.IdleLimit(u)
			// The margin's limit, not the ratio's (200 ms and 1 s).
			if l.Source != idle.SourceObserved || l.Timeout >= s.close-50*time.Millisecond || l.Timeout <= s.close-100*time.Millisecond {
				t.Errorf("%s: limit %v from %v, want the measured close less its margin, in (%v, %v)", s.name, l.Timeout, l.Source, s.close-100*time.Millisecond, s.close-50*time.Millisecond)
				return
			}
			before := dials.Load()
			failed := 0
			for i := range s.n {
				time.Sleep(rt.IdleLimit(u).Timeout - 2*time.Millisecond)
				if err := do(t, rt, http.MethodPost, u); err != nil {
					t.Logf("%s: POST %d: %v", s.name, i, err)
					failed++
				}
			}
			dialed := dials.Load() - before
			t.Logf("%s: limit %v from %v; %d POSTs each at the limit less 2 ms: %d failed, %d dials", s.name, l.Timeout, l.Source, s.n, failed, dialed)
			if failed != 0 {
				t.Errorf("%s: %d of %d POSTs failed", s.name, failed, s.n)
			}
			// A POST that came after the limit closed the connection,
			// late by more than 2 ms under load, dials: safe, but few.
			if int(dialed) > s.n/2 {
				t.Errorf("%s: %d dials for %d POSTs at the limit: the limit did not keep the connection", s.name, dialed, s.n)
			}
		}()
	}
	wg.Wait()
}
