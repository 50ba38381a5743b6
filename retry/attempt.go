package retry

import (
	"net/http"

	"github.com/resilient-http/resilient/internal/attempt"
)

// Attempt is one finished attempt, as a Policy or a Hook sees it. Exactly one
// of Response and Err is set.
type Attempt struct {
	// Request is the request as the caller sent it. Hooks must not modify it.
	Request *http.Request
	// Number counts attempts from 1.
	Number int
	// Response is the attempt's response when the server answered. Its body
	// has not been read.
	Response *http.Response
	// Err is the attempt's classified error; errors.As turns it into a
	// *transport.AttemptError (the same type as attempt.Error here).
	Err error
}

// classified returns the attempt's classification, or nil.
func (a Attempt) classified() *attempt.Error {
	ae, _ := a.Err.(*attempt.Error)
	return ae
}
