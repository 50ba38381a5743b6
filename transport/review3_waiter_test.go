package transport

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile review, round 2: a connection released already past its limit
// (idle counted from early-flushed headers, longer ago than the limit)
// gets a timer in the past, which closes it at once; but net/http put it
// back in its pool before the release, and hands it straight to a request
// waiting for a connection (MaxConnsPerHost). That request's write then
// meets a closed connection: the close came under a request that net/http
// had already given the connection to, the case retireGrace exists to
// avoid for the age limit. Before idleStart, a timer fired at least a
// limit after the release. Here: two long polls (headers at once, news
// after 1.2 s) at once on one connection slot under a configured 1 s
// (limit 800 ms). The second poll must get the first's connection once,
// and use it.
//
// Both with a body net/http can resend (GetBody) and one it cannot,
// which only our own retry of an unprocessed attempt saves.
func TestReview3ReleasedPastLimitClosedUnderWaiter(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	for _, getBody := range []bool{true, false} {
		name := "no-GetBody"
		if getBody {
			name = "GetBody"
		}
		t.Run(name, func(t *testing.T) { testReleasedPastLimitClosedUnderWaiter(t, getBody) })
	}
}

func testReleasedPastLimitClosedUnderWaiter(t *testing.T, getBody bool) {
	var served atomic.Int32
	u := goServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		served.Add(1)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(1200 * time.Millisecond) // the poll's wait for news: the case itself
		_, _ = io.WriteString(w, "news")
	})
	var dials atomic.Int32
	base := countingBase(&dials)
	base.MaxConnsPerHost = 1
	rt := New(WithBase(base), WithBackendIdleTimeout(time.Second))
	t.Cleanup(rt.CloseIdleConnections)

	var wg sync.WaitGroup
	var gotConns [2]atomic.Int32
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConns[i].Add(1) }}
			req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader("poll"))
			if !getBody {
				req.GetBody = nil
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		if i == 0 {
			time.Sleep(100 * time.Millisecond) // the first poll takes the slot; not a synchronisation of the result
		}
	}
	wg.Wait()
	t.Logf("errors %v; GotConn per poll %d, %d; dials %d; served %d", errs, gotConns[0].Load(), gotConns[1].Load(), dials.Load(), served.Load())
	for i, err := range errs {
		if err != nil {
			t.Errorf("poll %d: %v", i, err)
		}
	}
	if gotConns[0].Load()+gotConns[1].Load() != 2 || dials.Load() != 1 {
		t.Errorf("the waiting poll got %d connections and the polls dialed %d times: the connection handed to it was closed at its release", gotConns[1].Load(), dials.Load())
	}
}
