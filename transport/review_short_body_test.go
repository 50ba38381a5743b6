package transport_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestReviewShortBodyOnce: FINDING: a request whose body ends before its
// ContentLength (a truncated file, a caller's miscount) can never be sent:
// net/http fails it after the body's last byte, every time. That is the
// caller's request body failing, which runs once and costs no budget; the
// transport took it for a backend failure (net/http fails an in-memory
// body before the flush: nothing_written, kind other) and attempted the
// PUT three times, paying budget tokens. A streamed body is flushed in
// part first, and the truncated PUT reached the backend on several
// attempts.
func TestReviewShortBodyOnce(t *testing.T) {
	tests := []struct {
		name    string
		body    func() io.ReadCloser
		getBody bool
	}{
		{"in memory, GetBody", func() io.ReadCloser { return io.NopCloser(strings.NewReader("abc")) }, true},
		{"streamed, GetBody", func() io.ReadCloser { return io.NopCloser(io.MultiReader(strings.NewReader("abc"))) }, true},
		{"streamed, replay buffer", func() io.ReadCloser { return io.NopCloser(io.MultiReader(strings.NewReader("abc"))) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var arrived atomic.Int32
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				arrived.Add(1)
				_, _ = io.Copy(io.Discard, req.Body)
			})
			budget := retry.NewBudget(0, 0, 0)
			tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})), transport.WithRetryBudget(budget))
			req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/", tt.body())
			req.ContentLength = 10
			req.GetBody = nil
			if tt.getBody {
				req.GetBody = func() (io.ReadCloser, error) { return tt.body(), nil }
			}
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("the scenario needs net/http to refuse the short body")
			}
			var ae *transport.AttemptError
			var re *retry.Error
			if n := arrived.Load(); n > 1 || errors.As(err, &re) && re.Attempts != 1 || !errors.As(err, &ae) || ae.Kind != retry.KindRequestBody || !budget.Full() {
				t.Fatalf("the truncated PUT arrived %d times; want one attempt, kind request_body, the budget untouched (full %v): %v", n, budget.Full(), err)
			}
		})
	}
}
