package transport_test

import (
	"errors"
	"net/http"
	"net/url"
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
