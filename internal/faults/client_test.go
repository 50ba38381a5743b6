package faults_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// client is one transport under test and the connections it dialed.
type client struct {
	name  string
	http  *http.Client
	dials *atomic.Int64
}

// countingBase returns a clone of http.DefaultTransport that counts its
// dials in n, with a pool as large as a gateway would keep per backend.
func countingBase(n *atomic.Int64) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	d := &net.Dialer{Timeout: 5 * time.Second}
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return base
}

// bare is a plain http.Transport, as most services run it.
func bare(t *testing.T) *client {
	t.Helper()
	dials := new(atomic.Int64)
	rt := countingBase(dials)
	t.Cleanup(rt.CloseIdleConnections)
	return &client{name: "bare", http: &http.Client{Transport: rt}, dials: dials}
}

// resilient is transport.New over the same base, with opts.
func resilient(t *testing.T, opts ...transport.Option) *client {
	t.Helper()
	dials := new(atomic.Int64)
	rt := transport.New(append([]transport.Option{transport.WithBase(countingBase(dials))}, opts...)...)
	t.Cleanup(rt.CloseIdleConnections)
	return &client{name: "resilient", http: &http.Client{Transport: rt}, dials: dials}
}

// optIn is what a caller whose backend de-duplicates by Idempotency-Key
// configures: POSTs lost on a stale pooled connection may be repeated.
func optIn() transport.Option {
	return transport.WithRetry(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})
}

// send runs one request with id in X-Request-Id and reads its whole
// response. A POST's body cannot be rewound (as with a streamed upload),
// so net/http never repeats it by itself.
func (c *client) send(ctx context.Context, method, url, id string) (status int, err error) {
	var body io.Reader
	if method == http.MethodPost {
		body = io.NopCloser(strings.NewReader("payload " + id))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// tally is what one side saw over a run. Requests running at once may add
// to it; read it once they are done.
type tally struct {
	mu       sync.Mutex
	requests int
	errors   []error
	statuses map[int]int
}

func (t *tally) add(status int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if err != nil {
		t.errors = append(t.errors, err)
		return
	}
	if t.statuses == nil {
		t.statuses = map[int]int{}
	}
	t.statuses[status]++
}

// failed counts errors and non-2xx answers.
func (t *tally) failed() int {
	n := len(t.errors)
	for code, k := range t.statuses {
		if code >= 300 {
			n += k
		}
	}
	return n
}

func (t *tally) String() string {
	s := fmt.Sprintf("%d/%d failed", t.failed(), t.requests)
	if len(t.errors) > 0 {
		s += fmt.Sprintf(" (first: %v)", t.errors[0])
	}
	return s
}

// methods are the two kinds of request every scenario runs: one net/http
// may repeat by itself, one it never repeats.
var methods = []string{http.MethodGet, http.MethodPost}

// forEachServer runs f as a parallel subtest per real server.
func forEachServer(t *testing.T, servers []string, f func(t *testing.T, server string)) {
	t.Helper()
	for _, s := range servers {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			f(t, s)
		})
	}
}
