package retry

import (
	"errors"
	"fmt"
)

// Why retrying stopped: the Stop of a Decision and of an *Error, which
// matches exactly one of them with errors.Is.
var (
	// ErrPolicy: the Policy (or a Hook) said the attempt may not be
	// repeated; Decision.Reason and Error.Reason say which rule.
	ErrPolicy = errors.New("retry: policy does not allow a retry")
	// ErrMaxAttempts: Policy.MaxAttempts attempts or Policy.MaxElapsed ran
	// out, or the Policy's BackOff said stop.
	ErrMaxAttempts = errors.New("retry: attempts exhausted")
	// ErrBudgetExhausted: the backend's retry Budget denied the retry; the
	// backend is failing too often for retries to help.
	ErrBudgetExhausted = errors.New("retry: retry budget for the backend exhausted")
	// ErrBodyNotReplayable: the request body could not be sent again; set
	// Request.GetBody or raise Policy.BodyLimit.
	ErrBodyNotReplayable = errors.New("retry: request body cannot be replayed (no GetBody and larger than the buffer limit)")
	// ErrContextDone: the request's context is done (canceled, or its
	// deadline passed). Only the context says so: a timeout of the base
	// transport, such as ResponseHeaderTimeout, ends an attempt, not the
	// request, even though its error matches context.DeadlineExceeded.
	ErrContextDone = errors.New("retry: context done")
	// ErrDeadlineTooNear: the next attempt would start after the request's
	// context deadline, so the loop stopped while the context was still
	// live rather than wait for nothing. Raise the deadline, or lower the
	// backoff (Policy.BackOff) or the Retry-After it may honour
	// (Policy.MaxRetryAfter).
	ErrDeadlineTooNear = errors.New("retry: the next attempt would start past the context deadline (raise the deadline or lower the backoff)")
)

// Error is the final error of a request whose last attempt failed. It wraps
// that attempt's error, so errors.As still finds the
// *transport.AttemptError, and says how many attempts ran and why retrying
// stopped.
type Error struct {
	// Attempts is how many attempts ran.
	Attempts int
	// Stop is why the loop stopped: one of ErrPolicy, ErrMaxAttempts,
	// ErrBudgetExhausted, ErrBodyNotReplayable, ErrContextDone,
	// ErrDeadlineTooNear.
	Stop error
	// Reason is the last Decision's Reason, a label for logs and metrics;
	// branch on Stop instead.
	Reason string
	// Err is the last attempt's error.
	Err error
}

// Error returns a message with the attempt count, the stop reason and the
// last attempt's error.
func (e *Error) Error() string {
	return fmt.Sprintf("%s after %d attempt(s) (%s): %v", e.Stop, e.Attempts, e.Reason, e.Err)
}

// Unwrap returns the last attempt's error and the stop sentinel.
func (e *Error) Unwrap() []error { return []error{e.Err, e.Stop} }
