package transport

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/retry"
)

// Sentinels that errors.Is matches on an *AttemptError's chain. They are
// never returned on their own; they only describe an attempt.
var (
	// ErrDial matches attempts that could not connect (Kind retry.KindDial).
	ErrDial = errors.New("resilient: could not connect to the backend")
	// ErrResetBeforeHeaders matches attempts whose connection was closed or
	// reset by the backend before the response headers arrived: the
	// "upstream connect error or disconnect/reset before headers" of
	// gateways (AttemptError.ResetBeforeHeaders).
	ErrResetBeforeHeaders = errors.New("resilient: connection closed or reset before response headers")
	// ErrServerClosedIdle matches net/http's "http: server closed idle
	// connection" (Kind retry.KindServerClosedIdle), so that nobody has to
	// match its text.
	ErrServerClosedIdle = errors.New("resilient: server closed the idle connection as it was reused")
	// ErrUnprocessed matches attempts that provably never reached the
	// backend's application, which are safe to repeat for any method
	// (AttemptError.Unprocessed).
	ErrUnprocessed = errors.New("resilient: request provably not processed by the server")
)

// AttemptError describes one failed attempt: how far the request got, why
// it failed, on what connection, and the byte counts that prove the stage.
// The base transport's error stays in the chain, next to the sentinels that
// apply ([ErrDial], [ErrResetBeforeHeaders], [ErrServerClosedIdle],
// [ErrUnprocessed]), so both errors.Is and errors.As see them:
//
//	var ae *transport.AttemptError
//	if errors.As(err, &ae) && ae.Reused && errors.Is(err, transport.ErrResetBeforeHeaders) { ... }
//
// Only byte counts, error types and the request's context decide its
// fields: a backend can put any text into an error message. It implements
// [retry.Failure], which is all a [retry.Policy] reads of it.
type AttemptError struct {
	// Stage is how far the attempt got before it failed; see the
	// retry.Stage constants.
	Stage retry.Stage
	// Kind is why it failed; see the retry.Kind constants.
	Kind retry.Kind
	// Reused reports whether the connection had carried an earlier request.
	Reused bool
	// IdleFor is how long the reused connection had been idle in the pool
	// before this attempt took it; zero for a new connection.
	IdleFor time.Duration
	// HTTP2 reports whether the attempt ran on an HTTP/2 connection, where
	// byte counts are per connection rather than per request.
	HTTP2 bool
	// BytesWritten is how many request bytes this attempt wrote to the
	// connection (HTTP/1 only).
	BytesWritten int64
	// BytesRead is how many response bytes this attempt read from the
	// connection (HTTP/1 only).
	BytesRead int64
	// ServerRefused reports that the server said, in the HTTP/2 protocol,
	// that it did not process the request: a typed RST_STREAM with
	// REFUSED_STREAM before the response headers. No error message sets
	// it, whatever it says.
	ServerRefused bool
	// Err is the error the base transport returned.
	Err error

	// invalid is why the request can never succeed (Kind
	// retry.KindInvalidRequest); it is in the chain next to Err.
	invalid error
}

// classify turns err, which the base transport returned for an attempt
// with progress p, into an *AttemptError. An error that is one already
// (another request's, streamed as this request's body) is kept as it is.
func classify(err error, p attempt.Progress) *AttemptError {
	var prior *AttemptError
	if errors.As(err, &prior) {
		return prior
	}
	e := &AttemptError{
		Reused:  p.Reused,
		IdleFor: p.IdleFor,
		HTTP2:   p.HTTP2,
		Err:     err,
		invalid: p.Invalid,
	}
	if !p.HTTP2 {
		e.BytesWritten, e.BytesRead = p.Written, p.Read
	}
	e.Stage, e.Kind, e.ServerRefused = attempt.Classify(err, p)
	return e
}

// Unprocessed reports whether the request provably never reached the
// server's application, so that repeating it cannot run it twice: no
// connection, a connection that carried no request byte, or a typed
// HTTP/2 REFUSED_STREAM before any response (ServerRefused).
func (e *AttemptError) Unprocessed() bool {
	return !e.Stage.MayHaveReachedServer() || e.ServerRefused
}

// ResetBeforeHeaders reports whether the peer closed or reset the
// connection after it was obtained and before the response headers arrived.
func (e *AttemptError) ResetBeforeHeaders() bool {
	connectionLost := e.Kind == retry.KindEOF || e.Kind == retry.KindReset || e.Kind == retry.KindServerClosedIdle
	return connectionLost && e.Stage >= retry.StageNothingWritten && e.Stage < retry.StageHeadersReceived
}

// Stale reports whether the connection had been reused and the peer closed
// or reset it before the response headers: the pooled connection was at
// fault, not the backend.
func (e *AttemptError) Stale() bool { return e.Reused && e.ResetBeforeHeaders() }

// AttemptStage returns e.Stage, for [retry.Failure].
func (e *AttemptError) AttemptStage() retry.Stage { return e.Stage }

// AttemptKind returns e.Kind, for [retry.Failure].
func (e *AttemptError) AttemptKind() retry.Kind { return e.Kind }

// Error returns a message with the stage, the connection and the cause.
func (e *AttemptError) Error() string {
	var b strings.Builder
	b.WriteString("resilient: attempt failed (")
	b.WriteString(e.Kind.String())
	b.WriteString(") at stage ")
	b.WriteString(e.Stage.String())
	switch {
	case e.Stage == retry.StageNotConnected:
	case e.Reused:
		fmt.Fprintf(&b, " on a reused connection idle for %s", e.IdleFor.Round(time.Millisecond))
	default:
		b.WriteString(" on a new connection")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the original error, why the request is invalid when it
// is, and every sentinel that describes this attempt, so that errors.Is and
// errors.As see them all.
func (e *AttemptError) Unwrap() []error {
	errs := make([]error, 0, 4)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.invalid != nil {
		errs = append(errs, e.invalid)
	}
	if e.Kind == retry.KindDial {
		errs = append(errs, ErrDial)
	}
	if e.ResetBeforeHeaders() {
		errs = append(errs, ErrResetBeforeHeaders)
	}
	if e.Kind == retry.KindServerClosedIdle {
		errs = append(errs, ErrServerClosedIdle)
	}
	if e.Unprocessed() {
		errs = append(errs, ErrUnprocessed)
	}
	return errs
}
