package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/internal/telemetry"
	"github.com/resilient-http/resilient/retry"
)

// drainLimit bounds how much of a discarded response is read so that its
// connection can go back to the pool; a longer body costs the connection.
const drainLimit = 64 << 10

// drainTime bounds how long a discarded response may take to deliver that
// much. A backend that answers 503 and then stalls its body must not hold
// the retry, nor spend the request's deadline: a new connection costs
// less than the wait.
const drainTime = 100 * time.Millisecond

// roundTripRetry runs the request's attempts: an attempt, then
// retry.Policy.Decide, then the wait Decide asked for, until Decide says
// the request is done. Decide is the only place that decides.
func (t *Transport) roundTripRetry(req *http.Request) (*http.Response, error) {
	l := t.newLoop(req)
	first := req
	if t.retry.MaxAttempts > 1 {
		first = l.prepare()
	}
	resp, err := l.run(first)
	if l.body != nil {
		// Not deferred: a defer in run, with its many returns, would cost
		// every request, buffered or not.
		l.body.finish(err != nil)
	}
	return resp, err
}

// run runs the attempts, the first with the request first.
func (l *loop) run(first *http.Request) (resp *http.Response, err error) {
	t, req, p := l.t, l.req, &l.t.retry
	s := retry.State{Budget: t.budget}
	r := first
	for n := 1; ; n++ {
		var tel *telemetry.Attempt
		resp, tel, err = t.roundTripOnce(r, n, l.idempotent)
		if n == 1 && !t.budget.Full() {
			// Every request adds to its backend's retry reserve, whatever
			// its outcome (see retry.Budget), before Decide may draw on it.
			// Naming the backend allocates; a full budget needs nothing.
			t.budget.Deposit(t.keys.of(req.URL))
		}
		// The next attempt's request is built before Decide asks the
		// budget for a token: a body that cannot be had again (the
		// caller's GetBody fails) makes a retry that never runs, and costs
		// the backend nothing.
		var next *http.Request
		var bodyErr error
		if req.GetBody != nil && n < p.MaxAttempts && mayRetry(err, resp, p.Statuses) {
			next, bodyErr = l.attemptRequest()
		}
		d := p.Decide(retry.Attempt{Request: req, Number: n, Response: resp, Err: err, BodySpent: l.bodySpent() || bodyErr != nil}, &s, time.Time{})
		if !d.Retry {
			drop(next)
		}
		if !d.Retry && d.Stop == nil {
			return resp, nil
		}
		retryAt := time.Now().Add(d.Wait)
		tel.Retried(telemetry.Decision{
			Attempt: n, Reason: d.Reason, Delay: d.Wait, Stop: d.Stop, BudgetTokens: t.budget.Tokens(t.keys.of(req.URL)),
		})
		endFailed(tel, err)
		if d.Stop != nil {
			if bodyErr != nil && d.Stop == retry.ErrBodyNotReplayable {
				if resp != nil {
					discard(resp)
				}
				return nil, &retry.Error{Attempts: n, Stop: d.Stop, Reason: "get_body_failed",
					Err: fmt.Errorf("%w (last attempt: %w)", bodyErr, orStatus(err, resp))}
			}
			return l.stop(n, resp, err, d.Stop, d.Reason)
		}
		if resp != nil {
			discard(resp)
		}
		// The drain took its time out of the wait, not on top of it.
		if werr := wait(req.Context(), time.Until(retryAt)); werr != nil {
			drop(next)
			return nil, &retry.Error{Attempts: n, Stop: retry.ErrContextDone, Reason: "canceled_while_waiting",
				Err: fmt.Errorf("%w (last attempt: %w)", werr, orStatus(err, resp))}
		}
		if r = next; r == nil {
			if r, err = l.attemptRequest(); err != nil {
				return nil, &retry.Error{Attempts: n, Stop: retry.ErrBodyNotReplayable, Reason: "get_body_failed", Err: err}
			}
		}
	}
}

// idempotencyKeyWire is the name the Idempotency-Key the transport
// attaches is sent under; see loop.prepare.
const idempotencyKeyWire = "idempotency-key"

// mayRetry reports whether Decide could ask for another attempt after
// this one: a failure other than the caller's own body, or a retryable
// status. A broken body is never asked for again, not even to be dropped.
func mayRetry(err error, resp *http.Response, statuses []int) bool {
	if err == nil {
		return slices.Contains(statuses, resp.StatusCode)
	}
	var ae *AttemptError
	if errors.As(err, &ae) {
		return ae.Kind != retry.KindRequestBody
	}
	return true
}

// drop closes the body of a prepared attempt that will not run.
func drop(r *http.Request) {
	if r != nil && r.Body != nil {
		_ = r.Body.Close()
	}
}

// loop is what one request's attempts share.
type loop struct {
	t    *Transport
	req  *http.Request // the caller's, never modified
	base *http.Request // what each retry clones: req, or req with an Idempotency-Key
	body *replayBody   // nil unless the body is buffered for replay

	// idempotent is retry.Idempotent(req), and of every attempt's
	// request: the Idempotency-Key the transport may add goes under a
	// name net/http and retry.Idempotent do not read (idempotencyKeyWire).
	idempotent bool
}

// newLoop starts the loop of req's attempts.
func (t *Transport) newLoop(req *http.Request) loop {
	return loop{t: t, req: req, base: req, idempotent: retry.Idempotent(req)}
}

// prepare returns the first attempt's request, made ready for retries: an
// Idempotency-Key when a hook may repeat a non-idempotent request and the
// policy or the request asks for one, and a body without GetBody buffered while it
// streams, up to Policy.BodyLimit or what a replay on the attempt's
// connection can need (replayBody.onConn). The buffer is also every attempt's
// GetBody: net/http and x/net/http2 resend by themselves a request the
// server never got, and must be able to rewind its body.
func (l *loop) prepare() *http.Request {
	p, req := &l.t.retry, l.req
	first := req
	// The policy or the request may ask for a key; either is enough (see
	// retry.WithIdempotencyKey). The context is searched only for a
	// request that could need one.
	idempotent := l.idempotent
	if !idempotent && (p.IdempotencyKey || retry.IdempotencyKeyFrom(req.Context())) &&
		(p.Hook != nil || retry.HookFrom(req.Context()) != nil) {
		l.base = req.Clone(req.Context())
		// Under its lower-case name, which servers read as the same field
		// (HTTP/2 sends every name in lower case): net/http takes a request
		// with an "Idempotency-Key" for replayable and would resend it by
		// itself after its connection carried it, never asking the hook.
		l.base.Header[idempotencyKeyWire] = []string{rand.Text()}
		first = l.base
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil && p.BodyLimit > 0 {
		l.body = newReplayBody(req.Body, p.BodyLimit)
		l.body.declared = req.ContentLength
		if !idempotent && p.Hook == nil && retry.HookFrom(req.Context()) == nil {
			// Only a refusal in the protocol allows a replay after bytes
			// were written, and HTTP/1 has none: there, keep only what
			// net/http may have read before a write that moved no byte.
			l.body.h1Keep = h1Unwritten(l.t.base, req.ContentLength)
		}
		rd, _ := l.body.reader()
		if first == req {
			first = req.WithContext(req.Context())
		}
		first.Body, first.GetBody = rd, l.body.getBody
	}
	return first
}

// bodySpent reports whether the request body was streamed past the buffer
// and cannot be sent again.
func (l *loop) bodySpent() bool {
	switch {
	case l.req.Body == nil || l.req.Body == http.NoBody || l.req.GetBody != nil:
		return false
	case l.body != nil:
		l.body.mu.Lock()
		defer l.body.mu.Unlock()
		return l.body.over
	}
	return true
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

// attemptContext bounds one attempt by retry.Policy.AttemptTimeout: its
// Done closes when the caller's context is done, or when the timeout
// passes before the response began to arrive; never otherwise. It is not
// a context.WithTimeout, whose cancellation after the response headers
// would cut the body off (the bug of failsafe-go #65 and #123): once the
// first response byte arrived, the timer stops and only the caller's
// context can end the attempt, however long the body streams.
type attemptContext struct {
	context.Context // the caller's: Deadline and Value

	done  chan struct{}
	once  sync.Once
	err   atomic.Value // error, set before done closes
	state atomic.Int32 // attemptWaiting, attemptAnswered or attemptTimedOut
	timer *time.Timer
	stop  func() bool // ends the propagation of the caller's context
}

const (
	attemptWaiting  = iota // no response byte yet; the timer runs
	attemptAnswered        // a response byte arrived in time: the timer is disarmed
	attemptTimedOut        // the timer fired first: Done is closed
)

// newAttemptContext starts the attempt's timer.
func newAttemptContext(parent context.Context, timeout time.Duration) *attemptContext {
	c := &attemptContext{Context: parent, done: make(chan struct{})}
	c.stop = context.AfterFunc(parent, func() { c.cancel(parent.Err()) })
	c.timer = time.AfterFunc(timeout, func() {
		// A response byte that arrived as the timer fired wins: the
		// state changes once, whichever comes first.
		if c.state.CompareAndSwap(attemptWaiting, attemptTimedOut) {
			c.cancel(context.DeadlineExceeded)
		}
	})
	return c
}

func (c *attemptContext) cancel(err error) {
	c.once.Do(func() {
		c.err.Store(err)
		close(c.done)
	})
}

// Done closes when the caller's context is done or the attempt timed out.
func (c *attemptContext) Done() <-chan struct{} { return c.done }

// Err returns the caller's context's error, or context.DeadlineExceeded
// when the attempt timed out; nil while Done is open.
func (c *attemptContext) Err() error {
	if err, ok := c.err.Load().(error); ok {
		return err
	}
	return nil
}

// answered disarms the timer: a response byte arrived. It is a
// GotFirstResponseByte hook.
func (c *attemptContext) answered() {
	if c.state.CompareAndSwap(attemptWaiting, attemptAnswered) {
		c.timer.Stop()
	}
}

// timedOut reports whether the attempt outlived its timeout before any
// response byte.
func (c *attemptContext) timedOut() bool { return c.state.Load() == attemptTimedOut }

// release stops the timer and the propagation of the caller's context,
// once the attempt is over: it failed, or its response body is finished
// with. Done stays as it is.
func (c *attemptContext) release() {
	c.timer.Stop()
	c.stop()
}
