package transport_test

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestOptionValues: every option either takes its value or makes New
// panic with a message that names the option and the value; nil options
// and nil values documented as defaults are ignored.
func TestOptionValues(t *testing.T) {
	shared := idle.NewTracker()
	tests := []struct {
		name string
		opts []transport.Option
		// panics holds what the panic message must contain; nil means New
		// must not panic.
		panics []string
	}{
		{name: "nil option", opts: []transport.Option{nil}},
		{name: "WithBase nil", opts: []transport.Option{transport.WithBase(nil)}},
		{name: "WithRetry zero", opts: []transport.Option{transport.WithRetry(retry.Policy{})}},
		{name: "WithRetry negative MaxAttempts", opts: []transport.Option{transport.WithRetry(retry.Policy{MaxAttempts: -1})}, panics: []string{"WithRetry", "MaxAttempts -1"}},
		{name: "WithRetry negative MaxElapsed", opts: []transport.Option{transport.WithRetry(retry.Policy{MaxElapsed: -time.Second})}, panics: []string{"WithRetry", "MaxElapsed -1s"}},
		{name: "WithRetry negative MaxRetryAfter", opts: []transport.Option{transport.WithRetry(retry.Policy{MaxRetryAfter: -time.Second})}, panics: []string{"WithRetry", "MaxRetryAfter -1s"}},
		{name: "WithRetry status 99", opts: []transport.Option{transport.WithRetry(retry.Policy{Statuses: []int{503, 99}})}, panics: []string{"WithRetry", "status 99"}},
		{name: "WithRetry status 600", opts: []transport.Option{transport.WithRetry(retry.Policy{Statuses: []int{600}})}, panics: []string{"WithRetry", "status 600"}},
		{name: "WithoutRetry", opts: []transport.Option{transport.WithoutRetry()}},
		{name: "WithRetryBudget nil", opts: []transport.Option{transport.WithRetryBudget(nil)}},
		{name: "WithIdleRatio 1", opts: []transport.Option{transport.WithIdleRatio(1)}},
		{name: "WithIdleRatio 0.5", opts: []transport.Option{transport.WithIdleRatio(0.5)}},
		{name: "WithIdleRatio 0", opts: []transport.Option{transport.WithIdleRatio(0)}, panics: []string{"WithIdleRatio(0)"}},
		{name: "WithIdleRatio -1", opts: []transport.Option{transport.WithIdleRatio(-1)}, panics: []string{"WithIdleRatio(-1)"}},
		{name: "WithIdleRatio 1.5", opts: []transport.Option{transport.WithIdleRatio(1.5)}, panics: []string{"WithIdleRatio(1.5)"}},
		{name: "WithIdleRatio NaN", opts: []transport.Option{transport.WithIdleRatio(math.NaN())}, panics: []string{"WithIdleRatio(NaN)"}},
		{name: "WithIdleRatio +Inf", opts: []transport.Option{transport.WithIdleRatio(math.Inf(1))}, panics: []string{"WithIdleRatio(+Inf)"}},
		{name: "WithBackendIdleTimeout 0", opts: []transport.Option{transport.WithBackendIdleTimeout(0)}},
		{name: "WithBackendIdleTimeout 30s", opts: []transport.Option{transport.WithBackendIdleTimeout(30 * time.Second)}},
		{name: "WithBackendIdleTimeout negative", opts: []transport.Option{transport.WithBackendIdleTimeout(-time.Second)}, panics: []string{"WithBackendIdleTimeout(-1s)"}},
		{name: "WithHostIdleTimeout host:port", opts: []transport.Option{transport.WithHostIdleTimeout("api:8080", time.Second)}},
		{name: "WithHostIdleTimeout host", opts: []transport.Option{transport.WithHostIdleTimeout("api", time.Second)}},
		{name: "WithHostIdleTimeout https URL", opts: []transport.Option{transport.WithHostIdleTimeout("https://api.example/", time.Second)}},
		{name: "WithHostIdleTimeout leading space", opts: []transport.Option{transport.WithHostIdleTimeout(" api", time.Second)}, panics: []string{`WithHostIdleTimeout(" api", 1s)`}},
		{name: "WithHostIdleTimeout empty", opts: []transport.Option{transport.WithHostIdleTimeout("", time.Second)}, panics: []string{`WithHostIdleTimeout("", 1s)`}},
		{name: "WithHostIdleTimeout ftp", opts: []transport.Option{transport.WithHostIdleTimeout("ftp://api", time.Second)}, panics: []string{`WithHostIdleTimeout("ftp://api", 1s)`, "scheme"}},
		{name: "WithHostIdleTimeout bad port", opts: []transport.Option{transport.WithHostIdleTimeout("api:http", time.Second)}, panics: []string{`WithHostIdleTimeout("api:http", 1s)`}},
		{name: "WithHostIdleTimeout path", opts: []transport.Option{transport.WithHostIdleTimeout("http://api/v1", time.Second)}, panics: []string{`WithHostIdleTimeout("http://api/v1", 1s)`}},
		{name: "WithHostIdleTimeout negative", opts: []transport.Option{transport.WithHostIdleTimeout("api", -time.Second)}, panics: []string{`WithHostIdleTimeout("api", -1s)`, "negative"}},
		{name: "WithMaxConnectionAge 0", opts: []transport.Option{transport.WithMaxConnectionAge(0)}},
		{name: "WithMaxConnectionAge 5m", opts: []transport.Option{transport.WithMaxConnectionAge(5 * time.Minute)}},
		{name: "WithMaxConnectionAge negative", opts: []transport.Option{transport.WithMaxConnectionAge(-time.Second)}, panics: []string{"WithMaxConnectionAge(-1s)", "negative"}},
		{name: "WithIdleTracker nil", opts: []transport.Option{transport.WithIdleTracker(nil)}},
		{name: "WithIdleTracker", opts: []transport.Option{transport.WithIdleTracker(shared)}},
		{name: "WithIdleTracker and WithIdleRatio", opts: []transport.Option{transport.WithIdleTracker(shared), transport.WithIdleRatio(0.5)}, panics: []string{"WithIdleTracker", "WithIdleRatio"}},
		{name: "WithBackendIdleTimeout and WithIdleTracker", opts: []transport.Option{transport.WithBackendIdleTimeout(time.Minute), transport.WithIdleTracker(shared)}, panics: []string{"WithIdleTracker", "WithBackendIdleTimeout"}},
		{name: "WithIdleTracker and WithHostIdleTimeout", opts: []transport.Option{transport.WithIdleTracker(shared), transport.WithHostIdleTimeout("api", time.Minute)}, panics: []string{"WithIdleTracker", "WithHostIdleTimeout"}},
		{name: "WithHTTP2HealthCheck off", opts: []transport.Option{transport.WithHTTP2HealthCheck(0, 0)}},
		{name: "WithHTTP2HealthCheck negative readIdle", opts: []transport.Option{transport.WithHTTP2HealthCheck(-time.Second, time.Second)}, panics: []string{"WithHTTP2HealthCheck(-1s, 1s)"}},
		{name: "WithHTTP2HealthCheck negative pingTimeout", opts: []transport.Option{transport.WithHTTP2HealthCheck(time.Second, -time.Second)}, panics: []string{"WithHTTP2HealthCheck(1s, -1s)"}},
		{name: "WithTracerProvider nil", opts: []transport.Option{transport.WithTracerProvider(nil)}},
		{name: "WithMeterProvider nil", opts: []transport.Option{transport.WithMeterProvider(nil)}},
		{name: "WithPropagators nil", opts: []transport.Option{transport.WithPropagators(nil)}},
		{name: "WithLogger nil", opts: []transport.Option{transport.WithLogger(nil)}},
		{name: "WithLogger", opts: []transport.Option{transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := func() (msg string) {
				defer func() {
					if r := recover(); r != nil {
						msg = fmt.Sprint(r)
					}
				}()
				transport.New(tt.opts...).CloseIdleConnections()
				return ""
			}()
			switch {
			case tt.panics == nil && msg != "":
				t.Fatalf("New panicked: %s", msg)
			case tt.panics != nil && msg == "":
				t.Fatalf("New did not panic, want a panic naming %q", tt.panics)
			}
			for _, want := range tt.panics {
				if !strings.Contains(msg, want) {
					t.Errorf("panic %q does not name %q", msg, want)
				}
			}
		})
	}
}

// TestWithIdleTrackerKeepsSettings: a tracker the caller shares records
// what the Transport learns, but its settings are its owner's.
func TestWithIdleTrackerKeepsSettings(t *testing.T) {
	tr := idle.NewTracker()
	tr.Ratio = 0.6
	tr.Configured = 40 * time.Second
	transport.New(transport.WithIdleTracker(tr)).CloseIdleConnections()
	if tr.Ratio != 0.6 || tr.Configured != 40*time.Second {
		t.Fatalf("New changed the shared tracker: Ratio %v, Configured %s", tr.Ratio, tr.Configured)
	}
	func() {
		defer func() { _ = recover() }()
		transport.New(transport.WithIdleTracker(tr), transport.WithIdleRatio(0.5), transport.WithBackendIdleTimeout(time.Second))
	}()
	if tr.Ratio != 0.6 || tr.Configured != 40*time.Second {
		t.Fatalf("options given with WithIdleTracker changed the shared tracker: Ratio %v, Configured %s", tr.Ratio, tr.Configured)
	}
}

// TestWithRetryCopiesPolicy: the policy is the Transport's own once New
// returns; changing the caller's Statuses afterwards changes nothing.
func TestWithRetryCopiesPolicy(t *testing.T) {
	s := newScript(t, status(503), ok)
	p := fastPolicy(retry.Policy{Statuses: []int{http.StatusServiceUnavailable}})
	tr := transport.New(transport.WithRetry(p))
	t.Cleanup(tr.CloseIdleConnections)
	p.Statuses[0] = http.StatusTeapot
	req, _ := http.NewRequest("GET", s.srv.URL, nil)
	resp, err := do(t, tr, req)
	if err != nil || resp.StatusCode != http.StatusOK || s.calls.Load() != 2 {
		t.Fatalf("got %v, %v after %d calls; want the 503 retried into a 200", resp, err, s.calls.Load())
	}
}
