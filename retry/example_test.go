package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// Decide judges a finished attempt. A POST whose reused connection was
// reset after the request was written may have run, so the default policy
// stops; the same failure before any byte was written is provably safe, and
// is retried at once on a fresh connection.
func ExamplePolicy_Decide() {
	p := retry.Default()
	req, _ := http.NewRequest("POST", "http://orders.internal/", nil)
	lost := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Reused: true}
	d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: lost}, &retry.State{}, time.Now())
	fmt.Println(d.Retry, d.Reason, errors.Is(d.Stop, retry.ErrPolicy))

	unsent := &transport.AttemptError{Stage: retry.StageNothingWritten, Kind: retry.KindEOF, Reused: true}
	d = p.Decide(retry.Attempt{Request: req, Number: 1, Err: unsent}, &retry.State{}, time.Now())
	fmt.Println(d.Retry, d.Reason, d.Wait)
	// Output:
	// false not_idempotent true
	// true unprocessed 0s
}

// WithHook lets one request opt in to retries of a non-idempotent method,
// here only on a stale pooled connection.
func ExampleWithHook() {
	ctx := retry.WithHook(context.Background(), retry.StaleConnection)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://orders.internal/", nil)
	req.Header.Set("Idempotency-Key", "order-42") // lets the server de-duplicate
	fmt.Println(retry.HookFrom(req.Context()) != nil, retry.Idempotent(req))
	// Output: true true
}

// The final error says why retrying stopped and still carries the last
// attempt's error.
func ExampleError() {
	err := error(&retry.Error{Attempts: 2, Stop: retry.ErrBudgetExhausted, Reason: "budget_exhausted", Err: errors.New("connection reset by peer")})
	var re *retry.Error
	fmt.Println(errors.As(err, &re), re.Attempts, errors.Is(err, retry.ErrBudgetExhausted))
	fmt.Println(err)
	// Output:
	// true 2 true
	// retry: retry budget for the backend exhausted after 2 attempt(s) (budget_exhausted): connection reset by peer
}

// WithIdempotencyKey beside WithHook asks the transport for an
// Idempotency-Key on this request, though the client's Policy has no
// IdempotencyKey: every attempt carries the same key.
func ExampleWithIdempotencyKey() {
	ctx := retry.WithIdempotencyKey(retry.WithHook(context.Background(), retry.StaleConnection))
	fmt.Println(retry.IdempotencyKeyFrom(ctx), retry.IdempotencyKeyFrom(context.Background()))
	// Output: true false
}

// NewBudget with the defaults: 0.2 retries per request to a backend, and
// never fewer than 10 retries in any second. Stale pooled connections cost
// nothing.
func ExampleNewBudget() {
	b := retry.NewBudget(0, 0, 0)
	allowed := 0
	for range 20 {
		if b.Allow("http://api.internal:80") {
			allowed++
		}
	}
	fmt.Println(allowed, "retries within a second without traffic")
	// Output: 10 retries within a second without traffic
}
