package transport_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestBudgetIsPerBackend: the retry budget is kept per backend (scheme,
// lower-case host, port), so spellings of one backend share it.
func TestBudgetIsPerBackend(t *testing.T) {
	s := newScript(t, reset)
	u, _ := url.Parse(s.srv.URL)
	budget := retry.NewBudget(0.001, 1, time.Hour) // one retry an hour, then none
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{MaxAttempts: 5})), transport.WithRetryBudget(budget))
	tests := []struct {
		host     string
		attempts int
	}{
		{host: "LOCALHOST:" + u.Port(), attempts: 2},
		{host: "localhost:" + u.Port(), attempts: 1},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, "http://"+tt.host+"/", nil)
		_, err := tr.RoundTrip(req)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, retry.ErrBudgetExhausted) || re.Attempts != tt.attempts {
			t.Fatalf("%s: got %v; want the budget exhausted after %d attempt(s)", tt.host, err, tt.attempts)
		}
	}
	if got := budget.Tokens("http://localhost:" + u.Port()); got >= 1 {
		t.Fatalf("the backend's budget has %v retries left, want its one spent", got)
	}
}

// TestBudgetStaleConnectionIsFree: the seed's case, a pooled connection
// the backend reset before any response byte, never ends in
// budget_exhausted: it says nothing of the backend's health and costs no
// budget. The budget here has nothing left for any other retry. The
// request is a POST the caller allows to repeat on a stale connection
// (the seed's opt-in): net/http resends a GET there by itself.
func TestBudgetStaleConnectionIsFree(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if n == 1 {
				// The second request of a connection finds it reset.
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close()
				return
			}
			if _, err := io.WriteString(c, okResponse); err != nil {
				return
			}
		}
	})
	budget := retry.NewBudget(0.001, 1, time.Hour)
	budget.Allow("http://" + addr) // the floor's one retry an hour, spent
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{Hook: retry.StaleConnection})), transport.WithRetryBudget(budget))
	for i := range 4 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("x")))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("POST %d: %v; a stale connection must cost no budget", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
