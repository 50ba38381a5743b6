package transport_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// A client that lets POSTs be retried after a lost connection, with an
// Idempotency-Key so the backend can de-duplicate, and a retry budget that
// several transports could share. retry.StaleConnection is the narrower
// hook for pooled connections only.
func ExampleWithRetry() {
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// The first attempt dies before its response, as on a stale
			// connection; the key lets the server tell the retry apart.
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer backend.Close()

	budget := retry.NewBudget(0.2, 10, time.Second)
	client := &http.Client{Transport: transport.New(
		transport.WithRetry(retry.Policy{
			MaxAttempts:    4,
			Statuses:       []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable},
			MaxRetryAfter:  5 * time.Second,
			BackOff:        func() backoff.BackOff { return backoff.NewConstantBackOff(100 * time.Millisecond) },
			Hook:           func(retry.Attempt) bool { return true },
			IdempotencyKey: true,
		}),
		transport.WithRetryBudget(budget),
	)}
	resp, err := client.Post(backend.URL, "application/json", strings.NewReader(`{"order":42}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// WithoutRetry gives one attempt per request, still classified: the
// request's error says that its one attempt was spent, and carries the
// attempt's classification.
func ExampleWithoutRetry() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dial fails

	client := &http.Client{Transport: transport.New(transport.WithoutRetry())}
	_, err := client.Get("http://" + addr + "/")

	var re *retry.Error
	var ae *transport.AttemptError
	fmt.Println(errors.As(err, &re), re.Attempts, errors.Is(err, retry.ErrMaxAttempts))
	fmt.Println(errors.As(err, &ae), ae.Kind, ae.Unprocessed())
	// Output:
	// true 1 true
	// true dial true
}
