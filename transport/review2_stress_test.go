package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
)

// TestReview2ReuseUnderCallerTraces: bursts of concurrent requests, half
// of them with a caller's own httptrace hooks (as otelhttp's
// WithClientTrace installs), to a "localhost" URL, in every response
// shape, with bodies read to the end, closed early, closed twice, read
// after close and closed while read, on a pool small enough that
// connections come and go. The race detector sees an attempt reused while
// a hook, a body or a context of it is still used. (A dial that outlives
// its request is rare here: TestReview2LateDialHooks stages it.)
func TestReview2ReuseUnderCallerTraces(t *testing.T) {
	u := shapesServer(t)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 2 // connections come and go: dials outlive requests
	rt := New(WithBase(base))
	t.Cleanup(rt.CloseIdleConnections)
	paths := []string{"/", "/gzip", "/chunked", "/204", "/close", "/hints"}
	payload := bytes.Repeat([]byte("x"), 32<<10)
	for burst := range 6 {
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Go(func() {
				for i := range 6 {
					ctx := context.Background()
					h := &hookCounts{}
					if (w+i)%2 == 0 {
						ctx = httptrace.WithClientTrace(ctx, h.trace())
					}
					method, body := http.MethodGet, io.Reader(nil)
					if (w+i+burst)%3 == 0 {
						method, body = http.MethodPost, bytes.NewReader(payload)
					}
					req, _ := http.NewRequestWithContext(ctx, method, u.String()+paths[(w+i+burst)%len(paths)], body)
					resp, err := rt.RoundTrip(req)
					if err != nil {
						if !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") {
							t.Errorf("burst %d worker %d request %d: %v", burst, w, i, err)
						}
						continue
					}
					switch (w + i + burst) % 4 {
					case 0:
						_, _ = io.ReadAll(resp.Body)
						_ = resp.Body.Close()
					case 1:
						_ = resp.Body.Close()
					case 2:
						_, _ = io.ReadAll(resp.Body)
						_ = resp.Body.Close()
						_ = resp.Body.Close()
						_, _ = resp.Body.Read(make([]byte, 4))
					case 3:
						done := make(chan struct{})
						go func() { defer close(done); _, _ = io.ReadAll(resp.Body) }()
						_ = resp.Body.Close()
						<-done
					}
				}
			})
		}
		wg.Wait()
	}
}
