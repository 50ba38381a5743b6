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
// transport takes it for a backend failure (net/http fails it before the
// flush: nothing_written, kind other) and attempts the PUT three times,
// paying budget tokens. A body net/http does not know to be in memory is
// flushed in part first, and then the truncated PUT reaches the backend
// on several attempts (a variant with io.MultiReader bodies: twice).
func TestReviewShortBodyOnce(t *testing.T) {
	var arrived atomic.Int32
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		arrived.Add(1)
		_, _ = io.Copy(io.Discard, req.Body)
	})
	budget := retry.NewBudget(0, 0)
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})), transport.WithRetryBudget(budget))
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/", strings.NewReader("abc"))
	req.ContentLength = 10
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("the scenario needs net/http to refuse the short body")
	}
	var ae *transport.AttemptError
	var re *retry.Error
	if n := arrived.Load(); n > 1 || errors.As(err, &re) && re.Attempts != 1 || !errors.As(err, &ae) || ae.Kind != transport.KindRequestBody || !budget.Full() {
		t.Fatalf("the truncated PUT arrived %d times; want one attempt, kind request_body, the budget untouched (full %v): %v", n, budget.Full(), err)
	}
}
