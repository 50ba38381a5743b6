package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// brokenBody is a request body whose reader vanishes: it yields size bytes
// and then fails with err, as a gateway's inbound body does when its
// client goes away mid-upload. It counts the reads that failed.
type brokenBody struct {
	err error

	mu       sync.Mutex
	left     int
	failures int
}

func newBrokenBody(size int, err error) *brokenBody { return &brokenBody{err: err, left: size} }

func (b *brokenBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 {
		b.failures++
		return 0, b.err
	}
	n := min(len(p), b.left)
	for i := range n {
		p[i] = 'b'
	}
	b.left -= n
	return n, nil
}

func (b *brokenBody) Close() error { return nil }

// failedReads returns how many reads returned the body's error.
func (b *brokenBody) failedReads() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}

// errClientGone is the inbound body's error. It wraps io.ErrUnexpectedEOF,
// as net/http's server body does, so that taken for the backend's failure
// it would look like the backend closing a stale connection.
var errClientGone = fmt.Errorf("client went away mid-upload: %w", io.ErrUnexpectedEOF)

// checkCallersBody checks that err is the caller's broken body, reported
// after one attempt on a reused connection.
func checkCallersBody(t *testing.T, err error) {
	t.Helper()
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Errorf("got %v; want a classified attempt", err)
		return
	}
	if ae.Kind != retry.KindRequestBody {
		t.Errorf("got %v; want an attempt of kind request_body", err)
	}
	if !ae.Reused {
		t.Errorf("got %v; the scenario needs a reused connection", err)
	}
	if !errors.Is(err, errClientGone) {
		t.Errorf("got %v; the body's error is not in the chain", err)
	}
	if errors.Is(err, transport.ErrResetBeforeHeaders) {
		t.Errorf("got %v; the caller's body is reported as the backend's reset", err)
	}
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, retry.ErrPolicy) || re.Reason != "request_body" {
		t.Errorf("got %v; want the loop stopped after 1 attempt for the request body", err)
	}
}

// TestCallersBrokenBodyIsTheCallers: a PUT whose body fails mid-way is
// sent once, is reported as the caller's failure with the body's error in
// the chain, costs no retry budget and teaches nothing about the backend's
// idle limit; for a body buffered for replay and one with GetBody alike.
func TestCallersBrokenBodyIsTheCallers(t *testing.T) {
	tests := []struct {
		name    string
		getBody bool
	}{
		{name: "buffered for replay", getBody: false},
		{name: "GetBody", getBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				ok(w)
			}))
			t.Cleanup(srv.Close)
			budget := retry.NewBudget(0, 0, 0)
			tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})), transport.WithRetryBudget(budget))
			c := &http.Client{Transport: tr}
			u, _ := url.Parse(srv.URL)
			getAndDrain(t, c, srv.URL)
			limit := tr.IdleLimit(u)

			body := newBrokenBody(5000, errClientGone)
			req, _ := http.NewRequest(http.MethodPut, srv.URL, body)
			var gets atomic.Int32
			if tt.getBody {
				req.GetBody = func() (io.ReadCloser, error) {
					gets.Add(1)
					return newBrokenBody(5000, errClientGone), nil
				}
			}
			_, err := tr.RoundTrip(req)
			checkCallersBody(t, err)
			if n := gets.Load(); n != 0 {
				t.Errorf("GetBody called %d times; nothing may resend a broken body", n)
			}
			if n := body.failedReads(); n != 1 {
				t.Errorf("the broken body was read %d times past its failure, want 1", n)
			}
			if !budget.Full() {
				t.Errorf("the caller's failure took a budget token: %v left", budget.Tokens("http://"+u.Host))
			}
			if got := tr.IdleLimit(u); got != limit {
				t.Errorf("idle limit %+v after the caller's failure, was %+v: the backend was blamed", got, limit)
			}
			tr.CloseIdleConnections()
			if n := calls.Load(); n > 2 {
				t.Errorf("server ran %d requests, want the warm-up and at most one PUT", n)
			}
		})
	}
}

// TestCallersBrokenBodyUnderGatewayPolicy: under the policy of a gateway
// that opts in to retrying stale connections, a POST whose inbound body
// breaks on a reused connection runs at most once, in one attempt, and the
// backend's idle limit stays as it was.
func TestCallersBrokenBodyUnderGatewayPolicy(t *testing.T) {
	srv := newLedgerServer(t, time.Hour, false)
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})))
	u, _ := url.Parse(srv.url())
	warm, _ := http.NewRequest(http.MethodPost, srv.url(), strings.NewReader("warm"))
	warm.Header.Set("X-Request-Id", "warm")
	resp, err := tr.RoundTrip(warm)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	limit := tr.IdleLimit(u)

	req, _ := http.NewRequest(http.MethodPost, srv.url(), newBrokenBody(5000, errClientGone))
	req.Header.Set("X-Request-Id", "broken")
	_, err = tr.RoundTrip(req)
	checkCallersBody(t, err)
	if got := tr.IdleLimit(u); got != limit {
		t.Errorf("idle limit %+v after the caller's failure, was %+v: the backend was blamed", got, limit)
	}
	tr.CloseIdleConnections()
	srv.settle(t)
	if n := srv.arrived("broken"); n > 1 {
		t.Fatalf("the POST reached the backend %d times, want at most once", n)
	}
}

// TestCallersBrokenBodyOverHTTP2: the HTTP/2 transport (x/net/http2 up to
// Go 1.26, net/http's own from Go 1.27) hands back the body's error too,
// so the caller's broken body is told from the backend's failure there as
// well.
func TestCallersBrokenBodyOverHTTP2(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		ok(w)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	base.ForceAttemptHTTP2 = true
	tr := newTransport(t, transport.WithBase(base), transport.WithRetry(fastPolicy(retry.Policy{})))
	getAndDrain(t, &http.Client{Transport: tr}, srv.URL)

	req, _ := http.NewRequest(http.MethodPut, srv.URL, newBrokenBody(5000, errClientGone))
	_, err := tr.RoundTrip(req)
	checkCallersBody(t, err)
	var ae *transport.AttemptError
	if errors.As(err, &ae) && !ae.HTTP2 {
		t.Errorf("got %v; the scenario needs HTTP/2", err)
	}
}
