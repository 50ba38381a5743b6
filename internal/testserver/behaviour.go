package testserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

type connKey struct{}

// countRequests gives every connection a counter of the requests it
// carried, so that the handler knows whether a connection was reused.
func countRequests(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, new(atomic.Int32))
}

// behave serves the behaviours of the package doc and records executions
// in l.
func behave(l *ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		reused := false
		if n, ok := r.Context().Value(connKey{}).(*atomic.Int32); ok {
			reused = n.Add(1) > 1
		}
		reset := q.Get("reset")
		if reused && reset == "before" {
			resetConn(w)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		runs, ran := l.run(r.Header.Get("X-Request-Id"), r.Header.Get("Idempotency-Key"))
		if !ran {
			_, _ = io.WriteString(w, "ok")
			return
		}
		if reused && reset == "after" {
			resetConn(w)
			return
		}
		if q.Get("hang") != "" {
			<-r.Context().Done()
			return
		}
		if ms, err := strconv.Atoi(q.Get("sleep")); err == nil {
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		if code, err := strconv.Atoi(q.Get("status")); err == nil {
			if fail, err := strconv.Atoi(q.Get("fail")); err != nil || runs <= fail {
				if ra := q.Get("retry_after"); ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				w.WriteHeader(code)
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// resetConn takes the connection from net/http and closes it with an RST.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("testserver: reset needs HTTP/1.1")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
