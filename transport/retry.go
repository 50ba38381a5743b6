package transport

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/resilient-http/resilient/retry"
	"go.opentelemetry.io/otel/trace"
)

// drainLimit bounds how much of a discarded response is read so that its
// connection can go back to the pool; a longer body costs the connection.
const drainLimit = 64 << 10

// drainTime bounds how long a discarded response may take to deliver that
// much. A backend that answers 503 and then stalls its body must not hold
// the retry, nor spend the request's deadline: a new connection costs
// less than the wait.
const drainTime = 100 * time.Millisecond

// roundTripRetry runs the first attempt and, only if it needs one, the
// retry loop. A first attempt that succeeds costs a status lookup and a
// look at the budget (a credit when it is not full), and allocates nothing
// while the budget is full.
func (t *Transport) roundTripRetry(req *http.Request) (resp *http.Response, err error) {
	p := &t.retry
	if p.MaxAttempts <= 1 {
		return t.roundTripSingle(req)
	}
	l := loop{t: t, req: req, base: req}
	first := req
	if !retry.Idempotent(req) {
		l.hook = retry.HookFrom(req.Context())
		if l.hook == nil {
			l.hook = p.Hook
		}
		if l.hook != nil && p.IdempotencyKey {
			l.base = req.Clone(req.Context())
			// Under its lower-case name, which servers read as the same
			// field (HTTP/2 sends every name in lower case): net/http takes
			// a request with an "Idempotency-Key" for replayable and would
			// resend it by itself after its connection carried it, never
			// asking the hook.
			l.base.Header[idempotencyKeyWire] = []string{rand.Text()}
			first = l.base
		}
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil && p.BodyLimit > 0 {
		l.body = newReplayBody(req.Body, p.BodyLimit)
		l.body.declared = req.ContentLength
		defer func() { l.body.finish(err != nil) }()
		rd, _ := l.body.reader()
		if first == req {
			first = req.WithContext(req.Context())
		}
		first.Body, first.GetBody = rd, l.body.getBody
	}
	resp, span, err := t.roundTripOnce(first, 1)
	if err == nil && !p.RetryStatus(resp.StatusCode) {
		// Naming the backend allocates; a full budget needs no refill.
		if !t.budget.Full() {
			t.budget.Success(backendKey(req.URL))
		}
		return resp, nil
	}
	return l.run(resp, span, err)
}

// idempotencyKeyWire is the name the Idempotency-Key the transport
// attaches is sent under; see roundTripRetry.
const idempotencyKeyWire = "idempotency-key"

// loop is the state of one request's retries.
type loop struct {
	t     *Transport
	req   *http.Request // the caller's, never modified
	base  *http.Request // what each attempt clones: req, or req with an Idempotency-Key
	hook  retry.Hook
	body  *replayBody // nil unless the body is buffered for replay
	key   string      // the backend, as the retry budget knows it
	bo    backoff.BackOff
	start time.Time

	// pending is the next attempt's request, built before the budget is
	// asked for a token: a body that cannot be had again (GetBody fails)
	// makes a retry that never runs, and costs the backend nothing.
	pending *http.Request
	bodyErr error // why pending could not be built
}

// run repeats the request until an attempt succeeds or next says stop.
// span is the first attempt's, open until its decision is recorded.
func (l *loop) run(resp *http.Response, span trace.Span, err error) (*http.Response, error) {
	ctx := l.req.Context()
	l.start = time.Now()
	l.key = backendKey(l.req.URL)
	for n := 1; ; n++ {
		delay, reason, stop := l.next(n, resp, err)
		retryAt := time.Now().Add(delay)
		l.t.tel.retried(ctx, span, l.req, retryDecision{
			Attempt: n, Reason: reason, Delay: delay, Stop: stop, BudgetTokens: l.t.budget.Tokens(l.key),
		})
		endFailed(span, err)
		if l.bodyErr != nil {
			if resp != nil {
				discard(resp)
			}
			return nil, &retry.Error{Attempts: n, Stop: stop, Reason: reason,
				Err: fmt.Errorf("%w (last attempt: %w)", l.bodyErr, orStatus(err, resp))}
		}
		if stop != nil {
			l.dropPending()
			return l.stop(n, resp, err, stop, reason)
		}
		if resp != nil {
			discard(resp)
		}
		// The drain took its time out of the wait, not on top of it.
		if werr := wait(ctx, time.Until(retryAt)); werr != nil {
			l.dropPending()
			return nil, &retry.Error{Attempts: n, Stop: retry.ErrContextDone, Reason: "canceled_while_waiting",
				Err: fmt.Errorf("%w (last attempt: %w)", werr, orStatus(err, resp))}
		}
		r := l.pending
		l.pending = nil
		if r == nil {
			var berr error
			if r, berr = l.attemptRequest(); berr != nil {
				return nil, &retry.Error{Attempts: n, Stop: retry.ErrBodyNotReplayable, Reason: "get_body_failed", Err: berr}
			}
		}
		resp, span, err = l.t.roundTripOnce(r, n+1)
		if err == nil && !l.t.retry.RetryStatus(resp.StatusCode) {
			return resp, nil
		}
	}
}

// next is the one place the loop decides, after attempt n, whether to
// retry (stop == nil), how long to wait first, and why.
func (l *loop) next(n int, resp *http.Response, err error) (delay time.Duration, reason string, stop error) {
	p := &l.t.retry
	ctx := l.req.Context()
	now := time.Now()
	d := p.Decide(retry.Attempt{Request: l.req, Number: n, Response: resp, Err: err}, l.hook, now)
	switch {
	// Only the request's context ends the request: an attempt's error
	// proves nothing, a base transport's timeout matches
	// context.DeadlineExceeded too.
	case ctx.Err() != nil:
		return 0, "context_done", retry.ErrContextDone
	// The policy, with the caller's hook, says what may run again.
	case !d.Retry:
		return 0, d.Reason, retry.ErrPolicy
	// The caller's bound on attempts.
	case n >= p.MaxAttempts:
		return 0, "max_attempts", retry.ErrMaxAttempts
	// A body streamed once past the buffer cannot be sent again.
	case !l.replayable():
		return 0, "body_over_limit", retry.ErrBodyNotReplayable
	}
	delay, ok := l.delay(d)
	switch {
	// The caller's BackOff gave up.
	case !ok:
		return 0, "backoff_stopped", retry.ErrMaxAttempts
	// The caller's bound on the time spent retrying.
	case now.Add(delay).Sub(l.start) > p.MaxElapsed:
		return 0, "max_elapsed", retry.ErrMaxAttempts
	// Waiting for an attempt that could not start in time would only
	// turn this failure into a context error later.
	case startsTooLate(ctx, now.Add(delay)):
		return 0, "deadline_too_near", retry.ErrDeadlineTooNear
	// A retry whose body cannot be had runs never, and costs no token.
	case !l.prepare():
		return 0, "get_body_failed", retry.ErrBodyNotReplayable
	// A failure that says nothing about the backend costs it no token.
	case d.Free:
		return delay, d.Reason, nil
	// A backend failing wholesale gets no retry storm.
	case !l.t.budget.Allow(l.key):
		return 0, "budget_exhausted", retry.ErrBudgetExhausted
	}
	return delay, d.Reason, nil
}

// delay returns the wait before the retry d allows, or false when the
// BackOff says stop.
func (l *loop) delay(d retry.Decision) (time.Duration, bool) {
	switch {
	case d.Immediate:
		return 0, true
	case d.DelayKnown:
		return d.Delay, true
	}
	if l.bo == nil {
		l.bo = l.t.retry.BackOff()
	}
	delay := l.bo.NextBackOff()
	return delay, delay != backoff.Stop
}

// startsTooLate reports whether an attempt starting at would start past
// ctx's deadline.
func startsTooLate(ctx context.Context, at time.Time) bool {
	dl, ok := ctx.Deadline()
	return ok && at.After(dl)
}

// replayable reports whether the request body can be sent again.
func (l *loop) replayable() bool {
	switch {
	case l.req.Body == nil || l.req.Body == http.NoBody || l.req.GetBody != nil:
		return true
	case l.body != nil:
		l.body.mu.Lock()
		defer l.body.mu.Unlock()
		return !l.body.over
	}
	return false
}

// prepare builds the next attempt's request into pending when its body
// comes from the caller's GetBody, and reports whether it could; when not,
// bodyErr says why. A replay buffer's reader is made only once the retry
// is certain: taking one stops the previous attempt's reader, which the
// base may still be sending from while its response is returned.
func (l *loop) prepare() bool {
	if l.req.GetBody == nil {
		return true
	}
	r, err := l.attemptRequest()
	if err != nil {
		l.bodyErr = err
		return false
	}
	l.pending = r
	return true
}

// dropPending closes the body of a prepared attempt that will not run.
func (l *loop) dropPending() {
	if l.pending != nil && l.pending.Body != nil {
		_ = l.pending.Body.Close()
	}
	l.pending = nil
}

// attemptRequest builds the request for a retry: a clone of base with a
// fresh body.
func (l *loop) attemptRequest() (*http.Request, error) {
	r := l.base.Clone(l.req.Context())
	switch {
	case l.req.GetBody != nil:
		body, err := l.req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("resilient: GetBody failed, cannot resend the request body: %w", err)
		}
		r.Body = body
	case l.body != nil:
		rd, err := l.body.getBody()
		if err != nil {
			return nil, err
		}
		r.Body, r.GetBody = rd, l.body.getBody
	}
	return r, nil
}

// stop ends the loop: a response is returned as it is, an error is wrapped
// in a *retry.Error.
func (l *loop) stop(n int, resp *http.Response, err, why error, reason string) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if why == retry.ErrContextDone && l.req.Context().Err() != nil {
		err = fmt.Errorf("%w (last attempt: %w)", l.req.Context().Err(), err)
	}
	return nil, &retry.Error{Attempts: n, Stop: why, Reason: reason, Err: err}
}

// orStatus returns err, or describes the response that was retried.
func orStatus(err error, resp *http.Response) error {
	if err != nil || resp == nil {
		return err
	}
	return fmt.Errorf("resilient: response status %s", resp.Status)
}

// discard drains a bounded part of a response that is being retried, so
// that its connection can be reused, and closes it. A body that does not
// deliver within drainTime is closed from a timer, which unblocks the
// read: the connection is lost, the retry is not held up. The request's
// context bounds the drain too, as the base transport aborts a body read
// when the context is done.
func discard(resp *http.Response) {
	body := resp.Body
	timer := time.AfterFunc(drainTime, func() { body.Close() })
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	timer.Stop()
	body.Close()
}

// wait waits for d or until ctx is done, whichever comes first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
