package retry

import (
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy holds the settings of the retry rules, which [Policy.Decide]
// states and applies. The zero value of a field means its default; Default
// returns a Policy with every default spelled out.
type Policy struct {
	// MaxAttempts bounds the attempts, the first included. Default 3; 1
	// disables retries.
	MaxAttempts int
	// MaxElapsed bounds the time from the first failure to the start of
	// the last attempt. Default 30s.
	MaxElapsed time.Duration
	// Statuses are the response codes retried for idempotent requests.
	// Default 502, 503, 504 (and 429 when set here).
	Statuses []int
	// MaxRetryAfter caps a server's Retry-After; a longer one ends the loop
	// with the response. Default 10s.
	MaxRetryAfter time.Duration
	// BackOff returns a fresh backoff.BackOff for one request; its
	// backoff.Stop ends the retries. Default: exponential from 50ms,
	// factor 2, jitter 0.5, capped at 2s.
	BackOff func() backoff.BackOff
	// Hook, when set, allows retrying non-idempotent requests that Decide
	// would not. WithHook overrides it per request.
	Hook Hook
	// IdempotencyKey makes the transport attach one random Idempotency-Key
	// to every attempt of a non-idempotent request that a Hook may retry,
	// unless the request carries a key already. WithIdempotencyKey asks
	// for the same per request; either one asking is enough.
	IdempotencyKey bool
	// AttemptTimeout bounds each attempt from its start, the dial
	// included, to its response, as Envoy's per_try_timeout does; zero,
	// the default, means none. An attempt that outlives it fails with
	// KindAttemptTimeout, while the request's context lives on: an
	// idempotent request is retried within the context's deadline; a
	// non-idempotent one only when the attempt provably never reached the
	// server (a dial that timed out, StageNotConnected) or a Hook allows
	// it. Once the first response byte arrives the timeout is disarmed:
	// the headers are let arrive (as the timer fires, they win), and the
	// body is never cut by it, however long it streams. A base
	// transport's ResponseHeaderTimeout still applies; the shorter ends
	// the attempt. It costs each attempt a timer and a context of its own.
	AttemptTimeout time.Duration
	// BodyLimit is how many bytes of a request body without GetBody the
	// transport keeps while the first attempt streams it. An attempt that
	// failed before it read more than that is replayed from the bytes kept,
	// whatever the body's full length; once more was read, the body cannot
	// be sent again (Attempt.BodySpent, ErrBodyNotReplayable). Default
	// 1 MiB; negative means never keep any.
	BodyLimit int64
}

// Default returns the Policy with every default filled in. Each call
// returns a fresh Policy: changing its Statuses changes no other.
func Default() Policy {
	return Policy{}.withDefaults()
}

// withDefaults fills in the zero fields.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = 30 * time.Second
	}
	if p.Statuses == nil {
		p.Statuses = slices.Clone(defaultStatuses[:])
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 10 * time.Second
	}
	if p.BackOff == nil {
		p.BackOff = defaultBackOff
	}
	if p.BodyLimit == 0 {
		p.BodyLimit = 1 << 20
	}
	return p
}

// defaultStatuses is an array, so that no caller can change it.
var defaultStatuses = [...]int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

func defaultBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(2*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
}

// retriesStatus reports whether a response with this status code may be
// retried.
func (p *Policy) retriesStatus(code int) bool {
	if p.Statuses == nil {
		return slices.Contains(defaultStatuses[:], code)
	}
	return slices.Contains(p.Statuses, code)
}

func statusReason(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "status_429"
	case http.StatusBadGateway:
		return "status_502"
	case http.StatusServiceUnavailable:
		return "status_503"
	case http.StatusGatewayTimeout:
		return "status_504"
	}
	return "status_retryable"
}
