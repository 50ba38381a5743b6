package transport_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestReviewGetBodyFailureCostsNoBudget: FINDING: a request whose GetBody
// fails can never be sent again: it is a request-body failure, which the
// promises say runs once and costs no retry budget. The loop takes the
// backend's budget token before it calls GetBody, so the retry that never
// ran is paid for: a caller whose GetBody is broken drains a healthy
// backend's budget and other callers' retries are denied.
func TestReviewGetBodyFailureCostsNoBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	budget := retry.NewBudget(0.001, 1, time.Hour) // one retry
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})), transport.WithRetryBudget(budget))
	broken := errors.New("caller: body source gone")
	req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("x"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, broken }
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, broken) {
		t.Fatalf("got %v; the scenario needs GetBody's failure", err)
	}
	u, _ := url.Parse(srv.URL)
	if got := budget.Tokens("http://" + u.Host); got != 1 {
		t.Fatalf("the backend's budget has %v tokens after a retry that never ran, want its one (%v)", got, err)
	}
}
