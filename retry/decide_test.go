package retry_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestDecideStops: every stop of Decide comes with its sentinel and its
// label, and the bounds the Policy's doc promises (MaxAttempts,
// MaxElapsed, the BackOff, BodyLimit, the deadline, the budget) are kept
// by Decide itself.
func TestDecideStops(t *testing.T) {
	now := time.Now()
	reset := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Err: errors.New("reset")}
	stale := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Reused: true, Err: errors.New("reset")}
	dns := &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDNSNotFound}
	constant := func(d time.Duration) func() backoff.BackOff {
		return func() backoff.BackOff { return backoff.NewConstantBackOff(d) }
	}
	stop := func() backoff.BackOff { return &backoff.StopBackOff{} }
	soon, cancel := context.WithDeadline(context.Background(), now.Add(time.Hour))
	defer cancel()
	tight, cancelTight := context.WithDeadline(context.Background(), now.Add(10*time.Second))
	defer cancelTight()
	tests := []struct {
		name     string
		policy   retry.Policy
		ctx      context.Context
		number   int
		err      error
		spent    bool
		budget   *retry.Budget
		earlier  time.Duration // a failure this long before now began the retries
		wantStop error
		reason   string
		wait     time.Duration
	}{
		{name: "retry after the BackOff", policy: retry.Policy{BackOff: constant(time.Second)}, number: 1, err: reset, reason: "idempotent", wait: time.Second},
		{name: "a stale connection is retried at once", policy: retry.Policy{BackOff: constant(time.Second)}, number: 1, err: stale, reason: "idempotent"},
		{name: "the last attempt", policy: retry.Policy{MaxAttempts: 3}, number: 3, err: reset, wantStop: retry.ErrMaxAttempts, reason: "max_attempts"},
		{name: "MaxAttempts 1 turns retries off", policy: retry.Policy{MaxAttempts: 1}, number: 1, err: reset, wantStop: retry.ErrMaxAttempts, reason: "max_attempts"},
		{name: "a body past the limit", number: 1, err: reset, spent: true, wantStop: retry.ErrBodyNotReplayable, reason: "body_over_limit"},
		{name: "the BackOff says stop", policy: retry.Policy{BackOff: stop}, number: 1, err: reset, wantStop: retry.ErrMaxAttempts, reason: "backoff_stopped"},
		{name: "MaxElapsed spent", policy: retry.Policy{MaxElapsed: 10 * time.Second, BackOff: constant(time.Second)}, number: 2, err: reset, earlier: 9500 * time.Millisecond, wantStop: retry.ErrMaxAttempts, reason: "max_elapsed"},
		{name: "within MaxElapsed", policy: retry.Policy{MaxElapsed: 10 * time.Second, BackOff: constant(time.Second)}, number: 2, err: reset, earlier: 8 * time.Second, reason: "idempotent", wait: time.Second},
		{name: "the wait ends past the deadline", policy: retry.Policy{BackOff: constant(20 * time.Second)}, ctx: tight, number: 1, err: reset, wantStop: retry.ErrDeadlineTooNear, reason: "deadline_too_near"},
		{name: "the wait ends before the deadline", policy: retry.Policy{BackOff: constant(time.Second)}, ctx: soon, number: 1, err: reset, reason: "idempotent", wait: time.Second},
		{name: "the budget denies", number: 1, err: reset, budget: spentBudget(), wantStop: retry.ErrBudgetExhausted, reason: "budget_exhausted"},
		{name: "an unknown host costs no token", policy: retry.Policy{BackOff: constant(time.Second)}, number: 1, err: dns, budget: spentBudget(), reason: "dns_not_found", wait: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://backend.test/", nil)
			s := retry.State{Budget: tt.budget}
			if tt.earlier > 0 {
				// The first failure, which starts the clock of MaxElapsed.
				if d := tt.policy.Decide(retry.Attempt{Request: req, Number: 1, Err: reset}, &s, now.Add(-tt.earlier)); !d.Retry {
					t.Fatalf("first failure not retried: %+v", d)
				}
			}
			d := tt.policy.Decide(retry.Attempt{Request: req, Number: tt.number, Err: tt.err, BodySpent: tt.spent}, &s, now)
			if d.Stop != tt.wantStop || d.Retry != (tt.wantStop == nil) || d.Reason != tt.reason {
				t.Fatalf("Decide = %+v, want stop %v, reason %q", d, tt.wantStop, tt.reason)
			}
			if d.Retry && d.Wait != tt.wait {
				t.Errorf("wait %s, want %s", d.Wait, tt.wait)
			}
		})
	}
}

// TestDecideResult: a response that is not retried is the result, neither
// a retry nor a stop, and costs no budget token.
func TestDecideResult(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://backend.test/", nil)
	b := retry.NewBudget(0, 0, 0)
	s := retry.State{Budget: b}
	p := retry.Default()
	for _, code := range []int{200, 404, 500} {
		d := p.Decide(retry.Attempt{Request: req, Number: 1, Response: &http.Response{StatusCode: code}}, &s, time.Now())
		if d != (retry.Decision{}) {
			t.Errorf("status %d: Decide = %+v, want the result", code, d)
		}
	}
	if !b.Full() {
		t.Error("a result took a budget token")
	}
}

// TestDefaultIsFresh: a Policy from Default is the caller's own; changing
// it changes no later Default, and no zero Policy's defaults.
func TestDefaultIsFresh(t *testing.T) {
	p := retry.Default()
	p.Statuses[0] = http.StatusInternalServerError
	if got := retry.Default().Statuses[0]; got != http.StatusBadGateway {
		t.Fatalf("after changing one Default, a later Default retries %d first", got)
	}
	req, _ := http.NewRequest("GET", "http://backend.test/", nil)
	var zero retry.Policy
	d := zero.Decide(retry.Attempt{Request: req, Number: 1, Response: &http.Response{StatusCode: http.StatusInternalServerError}}, &retry.State{}, time.Now())
	if d.Retry {
		t.Fatal("after changing one Default, a zero Policy retries 500")
	}
}

// spentBudget returns a Budget that denies every retry to backend.test:
// its floor of one retry a day is spent, and its reserve is empty.
func spentBudget() *retry.Budget {
	b := retry.NewBudget(0.001, 1, 24*time.Hour)
	b.Allow("http://backend.test:80")
	return b
}

// TestDecideZeroNow: with the zero time for now, Decide reads the clock
// itself where a rule needs it: a deadline an hour away allows the wait,
// and one a millisecond away does not, as with the current time given.
func TestDecideZeroNow(t *testing.T) {
	reset := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Err: errors.New("reset")}
	p := retry.Policy{BackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Second) }}
	for _, tt := range []struct {
		name     string
		deadline time.Duration
		wantStop error
	}{
		{"deadline far", time.Hour, nil},
		{"deadline too near", time.Millisecond, retry.ErrDeadlineTooNear},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://backend.test/", nil)
			var s retry.State
			d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: reset}, &s, time.Time{})
			if d.Stop != tt.wantStop || (tt.wantStop == nil && (!d.Retry || d.Wait != time.Second)) {
				t.Errorf("Decide = %+v, want stop %v", d, tt.wantStop)
			}
		})
	}
}
