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

// roundTripRetry runs the first attempt and, only if it needs one, the
// retry loop. A first attempt that succeeds costs a status lookup and an
// atomic budget credit, and allocates nothing.
func (t *Transport) roundTripRetry(req *http.Request) (*http.Response, error) {
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
			l.base.Header.Set(retry.IdempotencyKeyHeader, rand.Text())
			first = l.base
		}
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil && p.BodyLimit > 0 {
		l.body = newReplayBody(req.Body, p.BodyLimit)
		defer l.body.finish()
		rd, _ := l.body.reader()
		if first == req {
			first = req.WithContext(req.Context())
		}
		first.Body, first.GetBody = rd, l.body.getBody
	}
	resp, span, err := t.roundTripOnce(first, 1)
	if err == nil && !p.RetryStatus(resp.StatusCode) {
		t.budget.Success(req.URL.Host)
		return resp, nil
	}
	return l.run(resp, span, err)
}

// loop is the state of one request's retries.
type loop struct {
	t     *Transport
	req   *http.Request // the caller's, never modified
	base  *http.Request // what each attempt clones: req, or req with an Idempotency-Key
	hook  retry.Hook
	body  *replayBody // nil unless the body is buffered for replay
	bo    backoff.BackOff
	start time.Time
}

// run repeats the request until an attempt succeeds or next says stop.
// span is the first attempt's, open until its decision is recorded.
func (l *loop) run(resp *http.Response, span trace.Span, err error) (*http.Response, error) {
	l.start = time.Now()
	for n := 1; ; n++ {
		delay, reason, stop := l.next(n, resp, err)
		l.t.tel.retried(l.req.Context(), span, l.req, retryDecision{
			Attempt: n, Reason: reason, Delay: delay, Stop: stop, BudgetTokens: l.t.budget.Tokens(l.req.URL.Host),
		})
		endFailed(span, err)
		if stop != nil {
			return l.stop(n, resp, err, stop, reason)
		}
		if resp != nil {
			discard(resp)
		}
		if werr := wait(l.req.Context(), delay); werr != nil {
			return nil, &retry.Error{Attempts: n, Stop: retry.ErrContextDone, Reason: "canceled_while_waiting",
				Err: fmt.Errorf("%w (last attempt: %w)", werr, orStatus(err, resp))}
		}
		r, berr := l.attemptRequest()
		if berr != nil {
			return nil, &retry.Error{Attempts: n, Stop: retry.ErrBodyNotReplayable, Reason: "get_body_failed", Err: berr}
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
	now := time.Now()
	d := p.Decide(retry.Attempt{Request: l.req, Number: n, Response: resp, Err: err}, l.hook, now)
	switch {
	case d.Reason == "context_done":
		return 0, d.Reason, retry.ErrContextDone
	case !d.Retry:
		return 0, d.Reason, retry.ErrPolicy
	case n >= p.MaxAttempts:
		return 0, "max_attempts", retry.ErrMaxAttempts
	case !l.replayable():
		return 0, "body_over_limit", retry.ErrBodyNotReplayable
	}
	switch {
	case d.Immediate:
	case d.DelayKnown:
		delay = d.Delay
	default:
		if l.bo == nil {
			l.bo = p.BackOff()
		}
		if delay = l.bo.NextBackOff(); delay == backoff.Stop {
			return 0, "backoff_stopped", retry.ErrMaxAttempts
		}
	}
	if now.Add(delay).Sub(l.start) > p.MaxElapsed {
		return 0, "max_elapsed", retry.ErrMaxAttempts
	}
	if dl, ok := l.req.Context().Deadline(); ok && now.Add(delay).After(dl) {
		return 0, "deadline_before_retry", retry.ErrContextDone
	}
	if !l.t.budget.Allow(l.req.URL.Host) {
		return 0, "budget_exhausted", retry.ErrBudgetExhausted
	}
	return delay, d.Reason, nil
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

// discard drains a bounded part of a response that is being retried and
// closes it, so that its connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	resp.Body.Close()
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
