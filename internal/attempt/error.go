package attempt

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels that a classified attempt error matches with errors.Is. They are
// never returned on their own; they only describe an *Error.
var (
	// ErrDial matches attempts that failed to establish a connection.
	ErrDial = errors.New("resilient: could not connect to the backend")
	// ErrResetBeforeHeaders matches attempts whose connection was closed or
	// reset by the peer before the response headers arrived: the "upstream
	// connect error or disconnect/reset before headers" of gateways.
	ErrResetBeforeHeaders = errors.New("resilient: connection closed or reset before response headers")
	// ErrServerClosedIdle matches attempts that net/http failed with "http:
	// server closed idle connection": the backend closed a pooled connection
	// just as it was reused.
	ErrServerClosedIdle = errors.New("resilient: server closed the idle connection as it was reused")
	// ErrUnprocessed matches attempts that provably never reached the server's
	// application: no connection, a connection that carried no request
	// byte, or an HTTP/2 stream the server refused (REFUSED_STREAM) before
	// any response. Error messages never prove it.
	ErrUnprocessed = errors.New("resilient: request provably not processed by the server")
)

// Error describes one failed attempt: how far it got, on what connection,
// and why it failed. The original error stays in the chain (errors.Is and
// errors.As see it) together with the sentinels above that apply.
type Error struct {
	// Stage is how far the attempt got before it failed.
	Stage Stage
	// Kind is why it failed.
	Kind Kind
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
	// REFUSED_STREAM on an HTTP/2 connection before the response headers.
	// No error message sets it, whatever it says.
	ServerRefused bool
	// Err is the error the base transport returned.
	Err error

	// invalid is why the request can never succeed (Kind
	// KindInvalidRequest); it is in the chain next to Err.
	invalid error
}

// Unprocessed reports whether the request provably never reached the
// server's application, so that repeating it cannot run it twice.
func (e *Error) Unprocessed() bool {
	return !e.Stage.MayHaveReachedServer() || e.ServerRefused
}

// ResetBeforeHeaders reports whether the peer closed or reset the
// connection after it was obtained and before the response headers arrived.
func (e *Error) ResetBeforeHeaders() bool {
	return e.Kind.isConnectionLoss() && e.Stage >= StageNothingWritten && e.Stage < StageHeadersReceived
}

// Error returns a message with the stage, the connection and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("resilient: attempt failed (")
	b.WriteString(e.Kind.String())
	b.WriteString(") at stage ")
	b.WriteString(e.Stage.String())
	switch {
	case e.Stage == StageNotConnected:
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
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 4)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.invalid != nil {
		errs = append(errs, e.invalid)
	}
	if e.Kind == KindDial {
		errs = append(errs, ErrDial)
	}
	if e.ResetBeforeHeaders() {
		errs = append(errs, ErrResetBeforeHeaders)
	}
	if e.Kind == KindServerClosedIdle {
		errs = append(errs, ErrServerClosedIdle)
	}
	if e.Unprocessed() {
		errs = append(errs, ErrUnprocessed)
	}
	return errs
}
