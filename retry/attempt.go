package retry

import (
	"errors"
	"net/http"
)

// Attempt is one finished attempt, as Policy.Decide or a Hook sees it.
// Exactly one of Response and Err is set.
type Attempt struct {
	// Request is the request as the caller sent it. Hooks must not modify it.
	Request *http.Request
	// Number counts attempts from 1.
	Number int
	// Response is the attempt's response when the server answered. Its body
	// has not been read.
	Response *http.Response
	// Err is the attempt's error. The transport's implements Failure
	// (*transport.AttemptError); an error that does not is never retried.
	Err error
	// BodySpent reports that the request's body was streamed past
	// Policy.BodyLimit without GetBody, so it cannot be sent again.
	BodySpent bool
}

// Failure is what a Policy needs to know about a failed attempt: how far it
// got, why it failed, and two conclusions drawn from byte counts and error
// types. *transport.AttemptError implements it, so a Hook may ask errors.As
// for either. Its methods are named apart from the fields of
// transport.AttemptError (Stage, Kind), which Go does not allow a method to
// share.
type Failure interface {
	error
	// AttemptStage returns how far the attempt got.
	AttemptStage() Stage
	// AttemptKind returns why the attempt failed.
	AttemptKind() Kind
	// Unprocessed reports whether the request provably never reached the
	// server's application: no connection, no request byte written, or a
	// refusal in the protocol (HTTP/2 REFUSED_STREAM, by its type). Repeating
	// it cannot run it twice, whatever the method.
	Unprocessed() bool
	// Stale reports whether the attempt's connection had carried an earlier
	// request and the peer closed or reset it before the response headers:
	// the pooled connection was at fault, not the backend.
	Stale() bool
}

// failure returns the attempt's Failure, or nil when its error has none.
func (a Attempt) failure() Failure {
	var f Failure
	if errors.As(a.Err, &f) {
		return f
	}
	return nil
}
