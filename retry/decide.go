package retry

import (
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/idle"
)

// State is what Decide remembers of one request between its attempts:
// when its first attempt failed, its BackOff, and the Budget its retries
// draw on. Use one State per request; its zero value has no Budget.
type State struct {
	// Budget is the per-backend retry budget the request draws on; nil
	// means none. Backends are named as idle.Key names them.
	Budget *Budget

	start time.Time       // when Decide first saw a failure
	bo    backoff.BackOff // created at the first wait that needs it
	drawn int             // retries the Budget allowed this request, returned when it is answered
}

// Decision is Decide's verdict on one finished attempt: retry after Wait,
// stop for the reason Stop names, or neither, when the attempt's response
// is the request's result.
type Decision struct {
	// Retry reports whether another attempt runs.
	Retry bool
	// Wait is how long to wait before that attempt.
	Wait time.Duration
	// Stop is why no other attempt runs, when the attempt failed or its
	// response has a status in Policy.Statuses: one of the Err sentinels
	// of this package. It is nil when Retry is set, and when the response
	// is simply the result.
	Stop error
	// Reason is a snake_case label for logs and metrics, such as
	// "idempotent" or "max_attempts". Branch on Retry and Stop, never on it.
	Reason string
}

// Decide decides, after attempt a of a request, whether it runs again, how
// long to wait first, or why it stops. It is the only place that decides:
// the transport runs an attempt, asks Decide, waits, and repeats. now is
// the current time; the zero time means Decide reads the clock itself,
// only when a rule needs it (a response that is the result needs none).
// s is the request's State, which Decide updates. Zero fields of p mean
// their defaults.
//
// The rules, in order; the first that applies decides:
//   - a response whose status is not in Statuses is the result;
//   - a done context stops (ErrContextDone): the request's context, not
//     the attempt's error, since a timeout of the base transport ends only
//     the attempt;
//   - an error that is no Failure stops (ErrPolicy), and so do failures
//     that repeating cannot cure: the caller's request body failing to
//     read, an invalid request, a server certificate that fails
//     verification, a host that DNS said twice does not exist;
//   - a failure after the response headers stops: the body had started;
//   - a response with a status in Statuses is retried for an idempotent
//     request (see Idempotent) only, after its Retry-After when the status
//     is 429 or 503, and stops if that is longer than MaxRetryAfter;
//   - a failure before the response headers is retried for any request
//     once DNS said the host does not exist (a first time, costing no
//     budget), or when the attempt provably never reached the server
//     (Failure.Unprocessed), for an idempotent request, or when the Hook
//     (WithHook's, or else Policy.Hook) allows it; otherwise it stops. An
//     attempt that outlived Policy.AttemptTimeout (KindAttemptTimeout) is
//     such a failure: retried as "attempt_timeout" for an idempotent
//     request, as "unprocessed" after a dial that timed out;
//   - MaxAttempts attempts stop (ErrMaxAttempts), and so does a body
//     streamed past BodyLimit (ErrBodyNotReplayable);
//   - the wait is none after a stale pooled connection or a refusal in
//     the protocol (the connection was at fault, not the backend), the
//     Retry-After when there is one, or else the BackOff's next interval;
//     a BackOff that says stop, or a wait past MaxElapsed since the first
//     failure, stops (ErrMaxAttempts);
//   - a wait that ends past the context's deadline stops
//     (ErrDeadlineTooNear) rather than wait for nothing;
//   - a retry that costs budget stops when the backend's Budget denies it
//     (ErrBudgetExhausted). Retries after a stale pooled connection
//     (Failure.Stale) and after a first "no such host" cost none: they say
//     nothing of the backend's health, so a stale connection never ends in
//     ErrBudgetExhausted;
//   - a response that is the result returns to the Budget what the
//     request's retries took from it (see Budget).
func (p *Policy) Decide(a Attempt, s *State, now time.Time) Decision {
	// A response with a status the policy does not retry is the result.
	// It is the only rule a successful attempt meets, and allocates nothing.
	if a.Err == nil && !p.retriesStatus(a.Response.StatusCode) {
		// The backend answered, if only after retries: what they took
		// from its Budget goes back, so that it is never starved.
		if s.drawn > 0 && s.Budget != nil {
			s.Budget.refund(idle.Key(a.Request.URL), s.drawn)
			s.drawn = 0
		}
		return Decision{}
	}
	if now.IsZero() {
		now = time.Now()
	}
	req, f := a.Request, a.failure()
	q := p.withDefaults() // a Policy is usable as the caller wrote it
	stop := func(why error, reason string) Decision { return Decision{Stop: why, Reason: reason} }

	// Whether the request may run again, by what the server can have seen.

	// Only the request's context ends the request: a base transport's
	// timeout ends one attempt, though its error matches context.DeadlineExceeded.
	if req.Context().Err() != nil {
		return stop(ErrContextDone, "context_done")
	}
	// An error the transport did not classify proves nothing about the server.
	if a.Err != nil && f == nil {
		return stop(ErrPolicy, "unclassified_error")
	}
	var stage Stage // for a response, zero: none of the rules on failures applies
	var kind Kind
	if f != nil {
		stage, kind = f.AttemptStage(), f.AttemptKind()
	}
	// The caller's body broke: a repeat would send it broken again, and the backend is not to blame.
	if kind == KindRequestBody {
		return stop(ErrPolicy, "request_body")
	}
	// The request can never succeed as written.
	if kind == KindInvalidRequest {
		return stop(ErrPolicy, "invalid_request")
	}
	// The same certificate fails verification again.
	if kind == KindTLSCertificate {
		return stop(ErrPolicy, "tls_certificate")
	}
	// The second "no such host" confirms the first.
	if kind == KindDNSNotFound && a.Number >= 2 {
		return stop(ErrPolicy, "dns_not_found")
	}
	// The response is the caller's once its headers arrived.
	if stage >= StageHeadersReceived {
		return stop(ErrPolicy, "response_started")
	}
	// A server that answered saw the request: only an idempotent one may run again.
	if a.Err == nil && !Idempotent(req) {
		return stop(ErrPolicy, "not_idempotent")
	}
	// A server that asks for a longer wait than the caller allows gets its answer returned.
	after, afterKnown := p.retryAfter(a.Response, now)
	if afterKnown && after > q.MaxRetryAfter {
		return stop(ErrPolicy, "retry_after_too_long")
	}
	reason, allowed, free, immediate := q.why(a, f)
	// The request may have run, and neither its method nor the caller says it may run twice.
	if !allowed {
		return stop(ErrPolicy, reason)
	}

	// Whether the caller's bounds and the backend allow another attempt.

	// The caller's bound on attempts.
	if a.Number >= q.MaxAttempts {
		return stop(ErrMaxAttempts, "max_attempts")
	}
	// A body streamed once past the buffer cannot be sent again.
	if a.BodySpent {
		return stop(ErrBodyNotReplayable, "body_over_limit")
	}
	if s.start.IsZero() {
		s.start = now
	}
	wait, ok := time.Duration(0), true
	switch {
	case immediate:
	case afterKnown:
		wait = after
	default:
		wait, ok = s.nextBackOff(q.BackOff)
	}
	// The caller's BackOff gave up.
	if !ok {
		return stop(ErrMaxAttempts, "backoff_stopped")
	}
	// The caller's bound on the time spent retrying.
	if now.Add(wait).Sub(s.start) > q.MaxElapsed {
		return stop(ErrMaxAttempts, "max_elapsed")
	}
	// An attempt that could not start in time would only turn this failure
	// into a context error later.
	if dl, has := req.Context().Deadline(); has && now.Add(wait).After(dl) {
		return stop(ErrDeadlineTooNear, "deadline_too_near")
	}
	// A backend failing wholesale gets no retry storm; a failure that says
	// nothing about the backend is free.
	if !free && s.Budget != nil {
		if !s.Budget.Allow(idle.Key(req.URL)) {
			return stop(ErrBudgetExhausted, "budget_exhausted")
		}
		s.drawn++
	}
	return Decision{Retry: true, Wait: wait, Reason: reason}
}

// why says whether the attempt may be repeated, by what the server can
// have seen of it, and why; free reports that the retry costs the backend
// no budget, immediate that it needs no wait. Decide has ruled out
// everything before it.
func (p *Policy) why(a Attempt, f Failure) (reason string, allowed, free, immediate bool) {
	if f == nil {
		// A response with a status the policy retries, to an idempotent request.
		return statusReason(a.Response.StatusCode), true, false, false
	}
	stale := f.Stale()
	switch {
	// One more lookup rides out a resolver's brief disagreement; no backend saw the request.
	case f.AttemptKind() == KindDNSNotFound:
		return "dns_not_found", true, true, false
	// The server never saw it: any method is safe to repeat. Bytes that
	// reached it prove a refusal in the protocol, owed to the connection.
	// A stale pooled connection costs no budget, whatever the rule
	// that allows the retry: the connection was at fault, not the backend.
	case f.Unprocessed():
		return "unprocessed", true, stale, stale || f.AttemptStage().MayHaveReachedServer()
	// An attempt that outlived Policy.AttemptTimeout before its headers;
	// only an idempotent request may run again after it reached the server.
	case f.AttemptKind() == KindAttemptTimeout && Idempotent(a.Request):
		return "attempt_timeout", true, false, false
	// Running it twice has the effect of running it once.
	case Idempotent(a.Request):
		return "idempotent", true, stale, stale
	}
	hook := HookFrom(a.Request.Context())
	if hook == nil {
		hook = p.Hook
	}
	switch {
	// The caller accepts a possible duplicate here.
	case hook != nil && hook(a):
		return "hook_allowed", true, stale, stale
	// The caller was asked and said no.
	case hook != nil:
		return "hook_declined", false, false, false
	}
	// It may have run; without the caller's consent it must not run twice.
	return "not_idempotent", false, false, false
}

// retryAfter returns the wait a 429 or 503 response asks for.
func (p *Policy) retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	return ParseRetryAfter(resp, now)
}

// nextBackOff returns the BackOff's next interval, or false when it says stop.
func (s *State) nextBackOff(newBackOff func() backoff.BackOff) (time.Duration, bool) {
	if s.bo == nil {
		s.bo = newBackOff()
	}
	d := s.bo.NextBackOff()
	return d, d != backoff.Stop
}
