package transport

import (
	"io"
	"net/http/httptrace"
	"sync/atomic"
)

// attemptBody is the response body handed to the caller. It is its own
// small object, never reused: a caller may read or close it after the
// attempt it came from was recycled (Close twice, Read after Close), and
// then it only forwards to the base transport's body, which handles that.
type attemptBody struct {
	body io.ReadCloser // the base transport's response body

	// a is the attempt until the body is finished with: the first of
	// EOF and Close takes it, so that the attempt is done exactly once,
	// and is recycled only by the reader that saw EOF (see recycle).
	a atomic.Pointer[attemptTrace]

	// failing counts the reads that are classifying a failure on a: the
	// reader that saw EOF does not recycle the attempt under them.
	failing atomic.Int32
}

// attemptLink is what others may still hold of an attempt after it was
// recycled: the context its request carries, a child of which net/http
// cancels after the response body ended (and so reads it), the httptrace
// hooks in that context, and the response body the caller holds. One
// allocation per attempt, never reused.
//
// The hooks are here and not in the attempt because net/http may dial for
// a request that no longer needs the connection (it got a pooled one
// first, and may have ended), on a context with the request's values: that
// dial reads the trace's TLS hooks, and runs its DNS hooks through closures
// of httptrace.WithClientTrace that call the trace's fields, whenever it
// gets there. They find the hooks the attempt had, the caller's among
// them; ours of those it never sets.
type attemptLink struct {
	ctx   traceContext
	trace httptrace.ClientTrace
	body  attemptBody
}

// wrap makes b the caller's response body over the base transport's body.
func (b *attemptBody) wrap(body io.ReadCloser, a *attemptTrace) *attemptBody {
	b.body = body
	b.a.Store(a)
	return b
}

// Read reads the base body; an error other than io.EOF is classified as a
// failure after the response headers.
func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch err {
	case nil:
	case io.EOF:
		if a := b.a.Swap(nil); a != nil {
			a.done()
			// A failing read that loaded a before the Swap counted
			// itself before it loaded: it is seen here.
			if b.failing.Load() == 0 {
				a.recycle()
			}
		}
	default:
		// A Close racing this read may finish the attempt meanwhile, but
		// never recycles it. A read that saw EOF does, and a caller may
		// read from two goroutines and close: one read meets the end,
		// the next the closed body; the count keeps the attempt whole
		// until this one is classified.
		b.failing.Add(1)
		if a := b.a.Load(); a != nil {
			err = a.fail(err)
		}
		b.failing.Add(-1)
	}
	return n, err
}

// Close closes the base body and releases the connection.
func (b *attemptBody) Close() error {
	err := b.body.Close()
	if a := b.a.Swap(nil); a != nil {
		// Closed before EOF: net/http may still be writing the request
		// (and run its WroteRequest hook later), so the attempt is left
		// to the garbage collector rather than reused.
		a.done()
	}
	return err
}
