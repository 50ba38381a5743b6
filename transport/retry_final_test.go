package transport_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestFailuresNoRetryCures: requests that can never succeed run once, an
// unknown host is looked up twice, and none of them costs the backend a
// retry token. The kinds come from the classifier; this test checks what
// the loop makes of them.
func TestFailuresNoRetryCures(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tests := []struct {
		name     string
		url      string
		header   [2]string // set when not empty
		noSuch   bool      // the dialer answers as for a host DNS does not know
		attempts int
		reason   string
	}{
		{name: "unknown host", url: "http://unknown.test/", noSuch: true, attempts: 2, reason: "dns_not_found"},
		{name: "invalid header value", url: tlsSrv.URL, header: [2]string{"X-Bad", "a\nb"}, attempts: 1, reason: "invalid_request"},
		{name: "unsupported scheme", url: "gopher://backend.test/", attempts: 1, reason: "invalid_request"},
		{name: "untrusted certificate", url: tlsSrv.URL, attempts: 1, reason: "tls_certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int32
			base := http.DefaultTransport.(*http.Transport).Clone()
			if tt.noSuch {
				base.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) {
					dials.Add(1)
					host, _, _ := net.SplitHostPort(addr)
					return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
				}
			}
			budget := retry.NewBudget(0, 0, 0)
			tr := newTransport(t, transport.WithBase(base), transport.WithRetry(fastPolicy(retry.Policy{MaxAttempts: 5})), transport.WithRetryBudget(budget))
			req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			if tt.header[0] != "" {
				req.Header[tt.header[0]] = []string{tt.header[1]}
			}
			_, err := tr.RoundTrip(req)
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != tt.attempts || re.Reason != tt.reason || !errors.Is(err, retry.ErrPolicy) {
				t.Fatalf("got %v; want the policy's stop for %s after %d attempt(s)", err, tt.reason, tt.attempts)
			}
			if tt.noSuch && dials.Load() != int32(tt.attempts) {
				t.Errorf("%d lookups, want %d", dials.Load(), tt.attempts)
			}
			if !budget.Full() {
				t.Errorf("the retry budget lost tokens to a failure that says nothing about the backend")
			}
		})
	}
}
