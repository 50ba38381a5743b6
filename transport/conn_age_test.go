package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ageServer is a Go server that counts the requests it ran and remembers
// when it ran the last one, and when it accepted its last connection.
type ageServer struct {
	addr     string
	ran      atomic.Int64
	last     atomic.Int64 // UnixNano
	lastConn atomic.Int64 // UnixNano
}

func newAgeServer(t *testing.T) *ageServer {
	t.Helper()
	s := &ageServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.ran.Add(1)
		s.last.Store(time.Now().UnixNano())
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.lastConn.Store(time.Now().UnixNano())
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s.addr = srv.Listener.Addr().String()
	return s
}

// postNoRewind sends a POST whose body cannot be rewound: any connection
// closed under it fails it, since nothing may send it again.
func postNoRewind(ctx context.Context, rt http.RoundTripper, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, io.NopCloser(strings.NewReader("payload")))
	if err != nil {
		return err
	}
	return doReq(rt, req)
}

// TestMaxConnectionAgeFollowsDNS: a backend name that resolves to a new
// address is followed by new connections, and the old connections are
// retired within their age limit, 1.1d at most, plus one request: the
// next request on an old connection retires it, and one that sat idle in
// the pool as it aged can carry that request until it has been idle for
// retireGrace. No request fails, though none can be sent twice.
func TestMaxConnectionAgeFollowsDNS(t *testing.T) {
	const d = 300 * time.Millisecond
	first, second := newAgeServer(t), newAgeServer(t)
	var current atomic.Pointer[string]
	current.Store(&first.addr)
	dialer := &net.Dialer{}
	base := &http.Transport{
		MaxIdleConnsPerHost: 8,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "backend.test:80" {
				addr = *current.Load()
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	rt := New(WithBase(base), WithMaxConnectionAge(d), WithoutRetry())
	t.Cleanup(rt.CloseIdleConnections)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var failed atomic.Int64
	var switched atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := postNoRewind(ctx, rt, "http://backend.test/"); err != nil && failed.Add(1) <= 3 {
					t.Errorf("POST: %v", err)
				}
			}
		})
	}
	// Switch once every worker has its connection to the first server.
	for first.ran.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	stopStalls := watchStalls()
	switched.Store(time.Now().UnixNano())
	current.Store(&second.addr)
	time.Sleep(3 * d)
	close(stop)
	wg.Wait()
	stall := stopStalls()

	lastOld := time.Duration(first.last.Load() - switched.Load())
	lastConn := time.Duration(first.lastConn.Load() - switched.Load())
	t.Logf("requests: first %d, second %d, failed %d; the first server's last request %v after the switch, its last connection %v (age %v); the longest stall %v",
		first.ran.Load(), second.ran.Load(), failed.Load(), lastOld, lastConn, d, stall)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	// A dial that began before the switch may end after it.
	if bound := 100*time.Millisecond + stall; lastConn > bound {
		t.Errorf("a connection reached the first server %v after the switch, want within %v", lastConn, bound)
	}
	// A loaded machine fires the age timers late, by as much as this
	// process stalls.
	if bound := d + d/10 + retireGrace + 100*time.Millisecond + stall; lastOld > bound {
		t.Errorf("the first server still ran a request %v after the switch, want within %v (1.1 x the age, the grace of an idle old connection, 100 ms for the last request, and the longest stall)", lastOld, bound)
	}
	if second.ran.Load() == 0 {
		t.Error("no request reached the second server")
	}
}

// TestMaxConnectionAgeClosesNothingUnderARequest: connections that pass
// their age all the time, under 16 workers sending 1000 POSTs each that
// cannot be sent twice, with no retry: every connection is retired while
// requests race for it, and none fails.
func TestMaxConnectionAgeClosesNothingUnderARequest(t *testing.T) {
	const workers, perWorker = 16, 1000
	s := newAgeServer(t)
	var dials atomic.Int32
	base := countingBase(&dials)
	base.MaxIdleConnsPerHost = workers
	rt := New(WithBase(base), WithMaxConnectionAge(20*time.Millisecond), WithoutRetry())
	t.Cleanup(rt.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if err := postNoRewind(ctx, rt, "http://"+s.addr+"/"); err != nil && failed.Add(1) <= 3 {
					t.Errorf("POST: %v", err)
				}
			}
		})
	}
	wg.Wait()
	const total = workers * perWorker
	t.Logf("%d POSTs: %d dials, %d failed", total, dials.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d POSTs failed", failed.Load(), total)
	}
	if got := s.ran.Load(); got != total {
		t.Errorf("the server ran %d requests, want %d", got, total)
	}
	if dials.Load() < 2*workers {
		t.Errorf("%d dials: the connections were not retired", dials.Load())
	}
}

// TestMaxConnectionAgeIdle: a connection past its age that sits idle is
// closed, and the next request dials; without the option it is reused.
func TestMaxConnectionAgeIdle(t *testing.T) {
	tests := []struct {
		name      string
		opts      []Option
		wantDials int32
	}{
		{name: "no age limit", wantDials: 1},
		{name: "aged while idle", opts: []Option{WithMaxConnectionAge(50 * time.Millisecond)}, wantDials: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAgeServer(t)
			var dials atomic.Int32
			rt := New(append([]Option{WithBase(countingBase(&dials))}, tt.opts...)...)
			t.Cleanup(rt.CloseIdleConnections)
			url := "http://" + s.addr + "/"
			if err := postNoRewind(context.Background(), rt, url); err != nil {
				t.Fatal(err)
			}
			time.Sleep(55*time.Millisecond + retireGrace + 100*time.Millisecond)
			if err := postNoRewind(context.Background(), rt, url); err != nil {
				t.Fatal(err)
			}
			if got := dials.Load(); got != tt.wantDials {
				t.Errorf("dials = %d, want %d", got, tt.wantDials)
			}
		})
	}
}

// TestMaxConnectionAgeAsksToClose: the request that gets a connection
// past its age says Connection: close in the attempt's own copy of the
// headers; the caller's request is untouched, and a Connection header of
// the caller's stays as it is.
func TestMaxConnectionAgeAsksToClose(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header["Connection"], ","))
		mu.Unlock()
	})
	rt := New(WithMaxConnectionAge(time.Millisecond))
	t.Cleanup(rt.CloseIdleConnections)
	send := func(connection string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		if connection != "" {
			req.Header.Set("Connection", connection)
		}
		if err := doReq(rt, req); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Connection"); got != connection {
			t.Errorf("the caller's Connection header became %q", got)
		}
		time.Sleep(20 * time.Millisecond) // the connection passes its age, idle for less than the grace
	}
	send("")           // asks for Keep-Alive: the advertisement is unknown
	send("")           // an old connection: asked to close
	send("")           // a new connection
	send("keep-alive") // old again, but the caller's header stays
	want := []string{"keep-alive", "close", "", "keep-alive"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("Connection headers the server saw: %q, want %q", seen, want)
	}
}
