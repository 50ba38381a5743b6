package transport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/resilient-http/resilient/retry"
)

// errReplaced is what an attempt's body reader returns once a later attempt
// has taken over the request body.
var errReplaced = errors.New("resilient: request body taken over by a later attempt")

// replayBody keeps the first bytes of a request body without GetBody while
// the first attempt streams it, so that a retry can send it again. Nothing
// is read ahead: the buffer grows only as the transport reads, and past the
// limit the body is no longer replayable.
type replayBody struct {
	// read serialises reads of src. It is never held with mu, so that
	// finish and Close do not wait for a Read blocked on the caller's
	// body (closing src is what unblocks it).
	read  sync.Mutex
	mu    sync.Mutex
	src   io.ReadCloser
	buf   []byte
	limit int64
	over  bool // more than limit bytes were read: no replay
	eof   bool
	// srcErr is the source's first error other than io.EOF. A broken
	// source is never read again: every reader returns its error.
	srcErr error
	// declared is the request's ContentLength (0: unknown), n the bytes
	// read from src: a source that ends short of it is broken.
	declared int64
	n        int64
	gen      int  // the reader that may read now
	done     bool // the loop ended: closing the current reader closes src
	shut     bool // the current reader was closed
	closed   bool // src was closed; it is closed once
}

func newReplayBody(src io.ReadCloser, limit int64) *replayBody {
	return &replayBody{src: src, limit: limit}
}

// reader returns the body for the next attempt; earlier readers stop
// working. It reports false when the body cannot be replayed.
func (b *replayBody) reader() (io.ReadCloser, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return nil, false
	}
	b.gen++
	b.shut = false
	return &replayReader{b: b, gen: b.gen}, true
}

// getBody is every attempt's Request.GetBody. The base transport resends
// by itself a request it knows the server never got (an HTTP/2 stream the
// server refused, or one that raced a GOAWAY), and then needs to rewind
// the body: without GetBody it fails the request with "cannot rewind body
// after connection loss" instead.
func (b *replayBody) getBody() (io.ReadCloser, error) {
	rd, ok := b.reader()
	if !ok {
		return nil, retry.ErrBodyNotReplayable
	}
	return rd, nil
}

// finish marks the end of the loop. The source is closed as soon as the
// last attempt's transport is done with its reader, and at once when the
// request failed: a base transport that took a reader through GetBody to
// resend the request by itself may give up without closing it (x/net/http2
// does when the context ends during its own backoff), and the caller's
// body is still closed, exactly once. After a failure nothing may send the
// body any more, so closing it under a late reader is harmless; after a
// success the base may still be sending it.
func (b *replayBody) finish(failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.shut || failed {
		_ = b.closeSrcLocked()
	}
}

// closeSrcLocked closes the caller's body unless it was closed already.
func (b *replayBody) closeSrcLocked() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.src.Close()
}

// readErr returns the source's error, once reading it failed.
func (b *replayBody) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srcErr
}

type replayReader struct {
	b   *replayBody
	gen int
	pos int
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.read.Lock()
	defer b.read.Unlock()
	b.mu.Lock()
	if r.gen != b.gen {
		b.mu.Unlock()
		return 0, errReplaced
	}
	if b.srcErr != nil {
		b.mu.Unlock()
		return 0, b.srcErr
	}
	if r.pos < len(b.buf) {
		n := copy(p, b.buf[r.pos:])
		r.pos += n
		b.mu.Unlock()
		return n, nil
	}
	if b.eof {
		b.mu.Unlock()
		return 0, io.EOF
	}
	b.mu.Unlock()
	n, err := b.src.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	if err == io.EOF && b.n < b.declared {
		err = errShortBody
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.srcErr = err
	}
	if r.gen != b.gen {
		// A retry took over while this read was blocked: keep the bytes,
		// in order, for the reader that replaces this one.
		b.buf = append(b.buf, p[:n]...)
		b.over = b.over || int64(len(b.buf)) > b.limit
		return 0, errReplaced
	}
	if n > 0 && !b.over {
		if int64(len(b.buf)+n) > b.limit {
			// Past the limit the bytes go straight through; the buffer
			// stays only for this attempt and no retry may follow.
			b.over = true
		} else {
			b.buf = append(b.buf, p[:n]...)
			r.pos += n
		}
	}
	return n, err
}

// Close ends this attempt's use of the body. The source stays open for a
// retry until the loop has finished.
func (r *replayReader) Close() error {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.gen != b.gen || b.shut {
		return nil
	}
	b.shut = true
	if b.done {
		return b.closeSrcLocked()
	}
	return nil
}

// bodyWatch tells whether reading the request body an attempt sent failed,
// and with what error.
type bodyWatch interface {
	readErr() error
}

// watchBody makes the body that the attempt request r sends tell whether
// reading it failed, and returns what tells; nil for a body that cannot
// fail. It changes r, never the caller's request.
func watchBody(r *http.Request) bodyWatch {
	switch body := r.Body.(type) {
	case nil:
		return nil
	case *replayReader:
		// The buffer keeps the source's error for every reader, also those
		// the base transport takes through GetBody.
		return body.b
	}
	if r.Body == http.NoBody {
		return nil
	}
	if inMemory(r.Body) {
		// Known to be whole, unless it holds less than the request says.
		if n, ok := memLen(r.Body); !ok || n >= r.ContentLength {
			return nil
		}
	}
	s := &sentBody{ReadCloser: r.Body, declared: r.ContentLength}
	r.Body = s
	return s
}

// blameBody returns e as the caller's failure when the error it carries is
// the one reading the caller's body returned: net/http returns the body's
// error from RoundTrip as it is or wrapped, and the error itself is
// evidence where its text would not be.
func blameBody(e *AttemptError, body bodyWatch) *AttemptError {
	if body == nil {
		return e
	}
	berr := body.readErr()
	if berr == nil || !errors.Is(e, berr) {
		return e
	}
	// e may be an error the body returned, another request's attempt
	// (a response body streamed as this request's body): never change it.
	callers := *e
	callers.Kind = retry.KindRequestBody
	return &callers
}

// sentBody is a request body as an attempt sends it; it keeps the first
// error other than io.EOF that reading it returned.
type sentBody struct {
	io.ReadCloser
	declared int64 // the request's ContentLength; 0 when unknown
	read     int64 // only the base transport's writer reads

	mu  sync.Mutex // Read runs on the base transport's writer goroutine
	err error
}

// errShortBody is what a request body returns in place of io.EOF when it
// ends before the request's ContentLength: net/http fails such a request
// every time, and the caller's body is to blame, not the backend.
var errShortBody = errors.New("resilient: the request body ended before its ContentLength")

func (s *sentBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.read += int64(n)
	if err == io.EOF && s.read < s.declared {
		err = errShortBody
	}
	if err != nil && err != io.EOF {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

func (s *sentBody) readErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// nopCloserTypes are the types io.NopCloser returns, seen through as
// net/http sees through them.
var nopCloserTypes = [...]reflect.Type{
	reflect.TypeOf(io.NopCloser(nil)),
	reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{})),
}

// memLen returns how many bytes an in-memory body (see inMemory) holds.
func memLen(r io.Reader) (int64, bool) {
	switch r := r.(type) {
	case *bytes.Buffer:
		return int64(r.Len()), true
	case *bytes.Reader:
		return int64(r.Len()), true
	case *strings.Reader:
		return int64(r.Len()), true
	}
	if t := reflect.TypeOf(r); t == nopCloserTypes[0] || t == nopCloserTypes[1] {
		inner, _ := reflect.ValueOf(r).Field(0).Interface().(io.Reader)
		return memLen(inner)
	}
	return 0, false
}

// inMemory reports whether r reads from memory and so cannot fail, as the
// bodies http.NewRequest makes of a *bytes.Buffer, *bytes.Reader or
// *strings.Reader do. Such a body stays unwrapped: the request allocates
// nothing more, and net/http still sends its headers and body together,
// which it does only for readers it knows.
func inMemory(r io.Reader) bool {
	switch r.(type) {
	case *bytes.Buffer, *bytes.Reader, *strings.Reader:
		return true
	}
	if t := reflect.TypeOf(r); t == nopCloserTypes[0] || t == nopCloserTypes[1] {
		inner, _ := reflect.ValueOf(r).Field(0).Interface().(io.Reader) // nil for io.NopCloser(nil)
		return inMemory(inner)
	}
	return false
}
