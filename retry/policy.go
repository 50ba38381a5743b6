package retry

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/internal/attempt"
)

// Policy says which failed attempts are repeated and how long to wait
// before each retry. The zero value of a field means its default; use
// Default for a Policy with every default spelled out.
//
// After an attempt, the rules are, in order:
//   - a done context stops the loop (the request's context, not the
//     attempt's error: a timeout of the base transport ends only the
//     attempt);
//   - a failure that repeating cannot cure is final: the caller's request
//     body failing to read, an invalid request, a server certificate that
//     fails verification; a host that DNS says does not exist is looked up
//     once more (without a Budget token), then final;
//   - a response whose status is not in Statuses, and a failure after the
//     response headers (the body had started), are final;
//   - a response with a status in Statuses is retried for idempotent
//     requests (see Idempotent), waiting as long as its Retry-After says
//     (up to MaxRetryAfter) when the status is 429 or 503;
//   - a failure before the response headers is retried for idempotent
//     requests, and for others only when the attempt provably never reached
//     the server (attempt.Error.Unprocessed: dial failure, nothing written,
//     or an HTTP/2 REFUSED_STREAM proven by its error type before any
//     response byte; never an error's text) or the Hook allows it;
//   - at most MaxAttempts attempts run, within MaxElapsed.
//
// A reset of a reused connection before any response byte is retried at
// once on a fresh connection: the backend is fine, the connection was old.
// Other retries wait for the next interval of the BackOff.
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
	// BackOff returns a fresh backoff.BackOff for one request. Default:
	// exponential from 50ms, factor 2, jitter 0.5, capped at 2s.
	BackOff func() backoff.BackOff
	// Hook, when set, allows retrying non-idempotent requests the rules
	// above would not. WithHook overrides it per request.
	Hook Hook
	// IdempotencyKey makes the transport attach one random Idempotency-Key
	// to every attempt of a non-idempotent request that a Hook may retry,
	// unless the request carries a key already.
	IdempotencyKey bool
	// BodyLimit is how many bytes of a request body without GetBody are
	// kept for a replay. A longer body is sent once and not retried.
	// Default 1 MiB; negative means never buffer.
	BodyLimit int64
}

// Default returns the Policy with every default filled in.
func Default() Policy {
	return Policy{}.withDefaults()
}

var defaultStatuses = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// withDefaults fills in the zero fields.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = 30 * time.Second
	}
	if p.Statuses == nil {
		p.Statuses = defaultStatuses
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

// Normalize returns p with its zero fields set to the defaults. The
// transport calls it once, at construction.
func (p Policy) Normalize() Policy { return p.withDefaults() }

func defaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(2*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	return b
}

// RetryStatus reports whether a response with this status code may be
// retried. It is the only check on the success path and allocates nothing.
func (p *Policy) RetryStatus(code int) bool {
	return slices.Contains(p.Statuses, code)
}

// Decision is a Policy's verdict on one attempt.
type Decision struct {
	// Retry reports whether another attempt should run.
	Retry bool
	// Reason says why, as a short snake_case label for logs and metrics.
	Reason string
	// Delay is the wait the server asked for (Retry-After), when Known.
	Delay time.Duration
	// DelayKnown reports whether Delay replaces the BackOff interval.
	DelayKnown bool
	// Immediate asks to retry at once: the connection, not the backend,
	// was at fault.
	Immediate bool
	// Free reports that the retry takes no token of the backend's Budget:
	// the failure says nothing about the backend's health (no backend saw
	// the request).
	Free bool
}

// Decide applies the rules to a finished attempt. hook, when not nil,
// replaces p.Hook.
func (p *Policy) Decide(a Attempt, hook Hook, now time.Time) Decision {
	if hook == nil {
		hook = p.Hook
	}
	// Only the request's context says that the request is over. An
	// attempt's error cannot: a timeout of the base transport
	// (ResponseHeaderTimeout) matches context.DeadlineExceeded too.
	if a.Request != nil && a.Request.Context().Err() != nil {
		return Decision{Reason: "context_done"}
	}
	if a.Response != nil {
		return p.decideResponse(a, now)
	}
	ae := a.classified()
	if ae == nil {
		var target *attempt.Error
		if !errors.As(a.Err, &target) {
			return Decision{Reason: "unclassified_error"}
		}
		ae = target
	}
	immediate := ae.Reused && ae.ResetBeforeHeaders()
	switch {
	// The caller's body broke: a repeat would send it broken again, and the backend is not to blame.
	case ae.Kind == attempt.KindRequestBody:
		return Decision{Reason: "request_body"}
	// The request can never succeed as written.
	case ae.Kind == attempt.KindInvalidRequest:
		return Decision{Reason: "invalid_request"}
	// The same certificate fails verification again.
	case ae.Kind == attempt.KindTLSCertificate:
		return Decision{Reason: "tls_certificate"}
	// The second "no such host" confirms the first.
	case ae.Kind == attempt.KindDNSNotFound && a.Number >= 2:
		return Decision{Reason: "dns_not_found"}
	// One more lookup rides out a resolver's brief disagreement; no backend saw the request.
	case ae.Kind == attempt.KindDNSNotFound:
		return Decision{Retry: true, Reason: "dns_not_found", Free: true}
	// The response is the caller's once its headers arrived.
	case ae.Stage >= attempt.StageHeadersReceived:
		return Decision{Reason: "response_started"}
	// The server never saw it: any method is safe to repeat.
	case ae.Unprocessed():
		return Decision{Retry: true, Reason: "unprocessed", Immediate: immediate || ae.ServerRefused}
	// Running it twice has the effect of running it once.
	case Idempotent(a.Request):
		return Decision{Retry: true, Reason: "idempotent", Immediate: immediate}
	// The caller accepts a possible duplicate here.
	case hook != nil && hook(a):
		return Decision{Retry: true, Reason: "hook_allowed", Immediate: immediate}
	// The caller was asked and said no.
	case hook != nil:
		return Decision{Reason: "hook_declined"}
	}
	// It may have run; without the caller's consent it must not run twice.
	return Decision{Reason: "not_idempotent"}
}

func (p *Policy) decideResponse(a Attempt, now time.Time) Decision {
	code := a.Response.StatusCode
	if !p.RetryStatus(code) {
		return Decision{Reason: "status_final"}
	}
	if !Idempotent(a.Request) {
		return Decision{Reason: "not_idempotent"}
	}
	d := Decision{Retry: true}
	d.Reason = statusReason(code)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if wait, ok := RetryAfter(a.Response, now); ok {
			if wait > p.MaxRetryAfter {
				return Decision{Reason: "retry_after_too_long"}
			}
			d.Delay, d.DelayKnown = wait, true
		}
	}
	return d
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
