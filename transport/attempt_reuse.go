package transport

import (
	"io"
	"net/http/httptrace"
	"net/textproto"
)

// Reusing an attempt's state. Every attempt needs its httptrace hooks,
// which are closures over the attempt; made anew they cost an allocation
// each on every request. An attemptTrace therefore makes its hooks once,
// and is reused by a later attempt of the same Transport once nothing can
// reach it any more.
//
// That moment must be certain: net/http keeps using the attempt's request,
// its context (which carries the hooks) and its body after RoundTrip has
// returned. Its writer goroutine runs WroteRequest when the request is
// written, which can be after the response arrived; x/net/http2 runs a
// stream's writer on a goroutine of its own; a caller may close a body
// twice; after the body's end, net/http cancels a context derived from
// the attempt's, which reads it; a dial net/http started for the request
// goes on after the request got another connection and ended, and reads
// the trace in the context. What can be reached that late, the context,
// the httptrace.ClientTrace in it and the response body, lives apart
// (attemptLink) and is never reused; the rest, the hook functions
// included, is recycled only when every hook of ours that can still run
// has run, and only by the reader that saw its response body end:
//
//   - the response body reached io.EOF: net/http has returned the
//     connection to its pool (it does so before that read returns), and
//     no hook of this request can run again on it;
//   - the attempt had exactly one HTTP/1 connection of ours, and the
//     request was written once: WroteRequest's last act is to count
//     itself, so a count of one means it has returned;
//   - no per-attempt timeout runs (its context outlives the attempt);
//   - no other read of the body is classifying a failure on it (a caller
//     may read from two goroutines, and close: see attemptBody.Read).
//
// Anything else (an HTTP/2 or untracked connection, a resend by the base
// transport, a body closed before its end, a failure) leaves the attempt
// to the garbage collector: not reusing is always safe. The response body
// the caller holds is a separate object (attemptBody), and the caller
// always gets their own request back as resp.Request.

// attemptHooks are an attemptTrace's httptrace hooks and its rewinding
// GetBody, bound to it once.
type attemptHooks struct {
	gotConn      func(httptrace.GotConnInfo)
	wroteRequest func(httptrace.WroteRequestInfo)
	got1xx       func(int, textproto.MIMEHeader) error
	got100       func()
	firstByte    func()
	rewind       func() (io.ReadCloser, error)
}

// newAttemptTrace returns a recycled attemptTrace of t, or a new one with
// its hooks made.
func (t *Transport) newAttemptTrace() *attemptTrace {
	if a, ok := t.attempts.Get().(*attemptTrace); ok {
		return a
	}
	a := &attemptTrace{t: t}
	a.hooks = attemptHooks{
		gotConn:      a.gotConnHook,
		wroteRequest: a.wroteRequestHook,
		got1xx:       a.got1xxHook,
		got100:       a.got100Hook,
		firstByte:    a.firstByteHook,
		rewind:       a.rewind,
	}
	return a
}

// recycle makes a finished attempt available to a later one, when nothing
// can reach it any more (see above); it is called by the reader that saw
// the response body's io.EOF, after done.
func (a *attemptTrace) recycle() {
	if a.conn == nil || a.isHTTP2 || a.gotConns != 1 || a.writes.Load() != 1 || a.actx != nil {
		return
	}
	a.attemptState = attemptState{}
	a.t.attempts.Put(a)
}
