package transport_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/resilient-http/resilient/transport"
)

type connRequestsKey struct{}

// maxServer starts Go's http.Server advertising Keep-Alive: timeout=30,
// max=2. With closeAtMax it sends Connection: close with every second
// response of a connection and closes it, as Apache, nginx and Node do;
// without, it keeps the connection open. It counts the requests it ran.
func maxServer(t *testing.T, closeAtMax bool) (url string, ran *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ran = new(atomic.Int64)
	srv := &http.Server{
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connRequestsKey{}, new(int)) // one handler at a time per HTTP/1 conn
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			ran.Add(1)
			n := r.Context().Value(connRequestsKey{}).(*int)
			*n++
			w.Header().Set("Keep-Alive", "timeout=30, max=2")
			if closeAtMax && *n%2 == 0 {
				w.Header().Set("Connection", "close")
			}
			_, _ = io.WriteString(w, "ok")
		}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String() + "/", ran
}

// TestKeepAliveMaxCostsNoRequest: a backend's Keep-Alive max never costs a
// request. 16 workers send 100 POSTs each, whose bodies cannot be rewound,
// so that any connection closed under a request fails it.
func TestKeepAliveMaxCostsNoRequest(t *testing.T) {
	const workers, perWorker = 16, 100
	servers := []struct {
		name       string
		closeAtMax bool
	}{
		{name: "Connection: close at max, like Apache", closeAtMax: true},
		{name: "max advertised, connection kept open", closeAtMax: false},
	}
	policies := []struct {
		name string
		opts []transport.Option
	}{
		{name: "without retry", opts: []transport.Option{transport.WithoutRetry()}},
		{name: "default policy"},
	}
	for _, s := range servers {
		for _, p := range policies {
			t.Run(s.name+"/"+p.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				url, ran := maxServer(t, s.closeAtMax)
				spans := tracetest.NewSpanRecorder()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
				rt := newTransport(t, append(p.opts, transport.WithTracerProvider(tp))...)

				var failed atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for range perWorker {
							if err := postOnce(ctx, rt, url); err != nil {
								if failed.Add(1) <= 3 {
									t.Errorf("POST: %v", err)
								}
							}
						}
					})
				}
				wg.Wait()
				if ctx.Err() != nil {
					t.Fatal("the requests did not finish within a minute")
				}
				const total = workers * perWorker
				if f := failed.Load(); f != 0 {
					t.Errorf("%d of %d POSTs failed", f, total)
				}
				if got := ran.Load(); got != total {
					t.Errorf("the server ran %d requests, want %d", got, total)
				}
				// One attempt per request: nothing was wasted, nothing retried.
				if got := len(spans.Ended()); got != total {
					t.Errorf("%d attempts for %d requests", got, total)
				}
			})
		}
	}
}

// postOnce sends a POST whose body has no GetBody and reads the response.
func postOnce(ctx context.Context, rt http.RoundTripper, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, io.NopCloser(strings.NewReader("payload")))
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}
