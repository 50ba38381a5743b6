package transport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/resilient-http/resilient/retry"
)

// errReplaced is what an attempt's body reader returns once a later attempt
// has taken over the request body.
var errReplaced = errors.New("resilient: request body taken over by a later attempt")

// errReadAfterClose is what a reader returns when read for kept bytes
// after the body's chunks went back to the pool: only a base transport
// that reads a body it closed sees it.
var errReadAfterClose = errors.New("resilient: request body read after it was closed")

// errBytesLost is what the reader of a retry returns where the bytes that
// an earlier attempt read past the limit would have been: the body cannot
// be sent whole again.
var errBytesLost = fmt.Errorf("resilient: request body read past the buffer by a superseded attempt: %w", retry.ErrBodyNotReplayable)

// chunkSize is the size of the blocks a kept body is held in: large
// enough that a body of BodyLimit takes few of them, small enough that a
// body kept only for a write buffer's worth takes one.
const chunkSize = 16 << 10

type chunk [chunkSize]byte

// chunkPool holds the blocks of kept bodies between requests, so that a
// gateway streaming many bodies allocates none in the steady state.
var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// replayBody keeps the first bytes of a request body without GetBody while
// the first attempt streams it, so that a retry can send it again. Nothing
// is read ahead: bytes are kept only as the transport reads them, in
// fixed-size chunks from chunkPool (no regrowth, no copy of earlier
// bytes), and never more than limit; past it the body is no longer
// replayable, and the chunks go back at once. Otherwise they go back once
// the loop has finished and the base transport closed the last reader:
// every access to them is under mu, and a reader finds them gone rather
// than reused.
type replayBody struct {
	// read serialises reads of src. It is never held with mu, so that
	// finish and Close do not wait for a Read blocked on the caller's
	// body (closing src is what unblocks it).
	read   sync.Mutex
	mu     sync.Mutex
	src    io.ReadCloser
	chunks []*chunk
	first  [4]*chunk // chunks' backing array for a small body
	size   int64     // bytes kept
	// limit is how many bytes may be kept now: maxKeep, or h1Keep once
	// the attempt's connection is known to be HTTP/1 (see onConn).
	limit   int64
	maxKeep int64 // Policy.BodyLimit
	// h1Keep, when not zero, is what an HTTP/1 connection needs kept: the
	// request can be replayed there only when nothing was written, and
	// net/http reads no more than that before its first write.
	h1Keep   int64
	over     bool // more than limit bytes were read: no replay
	lost     bool // a superseded reader read past the limit: the retry cannot go on
	released bool // the chunks went back to the pool
	eof      bool
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
	b := &replayBody{src: src, limit: limit, maxKeep: limit}
	b.chunks = b.first[:0]
	return b
}

// reader returns the body for the next attempt; earlier readers stop
// working. It reports false when the body cannot be replayed.
func (b *replayBody) reader() (io.ReadCloser, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over || b.released {
		return nil, false
	}
	b.gen++
	b.shut = false
	return &replayReader{b: b, gen: b.gen}, true
}

// onConn sets how much of the body is kept once an attempt's connection is
// known, before the base transport reads the body on it: everything up to
// maxKeep where the request may be replayed after bytes were written
// (HTTP/2 refuses streams it took bytes of), only h1Keep where not. Bytes
// kept already stay; more are not kept.
func (b *replayBody) onConn(http1 bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = b.maxKeep
	if http1 && b.h1Keep > 0 {
		b.limit = min(b.maxKeep, b.h1Keep)
	}
}

// h1Unwritten returns how many bytes of a request body net/http can have
// read before its first write to an HTTP/1 connection: its write buffer's
// worth, plus the byte it probes a body of unknown length with. (A body
// it does not know for in-memory, as every replayed one, has its headers
// flushed first and is read only after that write; the buffer's worth is
// the bound should a body ever go out with its headers.)
func h1Unwritten(base *http.Transport, contentLength int64) int64 {
	wb := int64(base.WriteBufferSize)
	if wb <= 0 {
		wb = 4 << 10 // net/http's default
	}
	if contentLength > 0 {
		return wb
	}
	return wb + 1
}

// speaksHTTP1 reports whether a connection GotConn reported carries the
// request in HTTP/1: TLS that did not negotiate h2, or cleartext to a base
// that does not speak HTTP/2 without TLS (whose preface may only go out
// after GotConn, so that its connections are never known for HTTP/1).
func (t *Transport) speaksHTTP1(nc net.Conn, http2 bool) bool {
	if http2 || nc == nil {
		return false
	}
	if tc, ok := nc.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol != "h2"
	}
	return t.base.Protocols == nil || !t.base.Protocols.UnencryptedHTTP2()
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
// success the base may still be sending it. The chunks go back to the pool
// only once the last reader was closed: a reader dropped unclosed leaves
// them to the garbage collector.
func (b *replayBody) finish(failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.shut || failed {
		_ = b.closeSrcLocked()
	}
	if b.shut {
		b.releaseLocked()
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

// keepLocked appends p to the kept bytes, taking chunks as they fill.
func (b *replayBody) keepLocked(p []byte) {
	for len(p) > 0 {
		off := int(b.size % chunkSize)
		if off == 0 {
			b.chunks = append(b.chunks, chunkPool.Get().(*chunk))
		}
		k := copy(b.chunks[len(b.chunks)-1][off:], p)
		p = p[k:]
		b.size += int64(k)
	}
}

// copyLocked copies kept bytes from pos into p.
func (b *replayBody) copyLocked(p []byte, pos int64) int {
	n := 0
	for n < len(p) && pos < b.size {
		c, off := b.chunks[pos/chunkSize], pos%chunkSize
		end := min(chunkSize, b.size-(pos-off))
		k := copy(p[n:], c[off:end])
		n += k
		pos += int64(k)
	}
	return n
}

// releaseLocked returns the chunks to the pool. Only once no reader can
// read them: after the last one was closed, or when the body went over the
// limit while its only reader had read them all.
func (b *replayBody) releaseLocked() {
	if b.released {
		return
	}
	b.released = true
	for i, c := range b.chunks {
		chunkPool.Put(c)
		b.chunks[i] = nil
	}
	b.chunks = nil
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
	pos int64
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
	if r.pos < b.size {
		if b.released {
			b.mu.Unlock()
			return 0, errReadAfterClose
		}
		n := b.copyLocked(p, r.pos)
		r.pos += int64(n)
		b.mu.Unlock()
		return n, nil
	}
	if b.eof {
		b.mu.Unlock()
		return 0, io.EOF
	}
	if b.lost {
		b.mu.Unlock()
		return 0, errBytesLost
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
		// in order, for the reader that replaces this one, or, past the
		// limit, have it fail rather than skip them.
		switch {
		case n == 0:
		case !b.over && !b.released && b.size+int64(n) <= b.limit:
			b.keepLocked(p[:n])
		default:
			b.over, b.lost = true, true
		}
		return 0, errReplaced
	}
	if n > 0 && !b.over {
		if b.size+int64(n) > b.limit || b.released {
			// Past the limit the bytes go straight through and no retry
			// may follow; this reader has read every kept byte and no
			// other can be made, so the chunks are free now.
			b.over = true
			b.releaseLocked()
		} else {
			b.keepLocked(p[:n])
			r.pos += int64(n)
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
		b.releaseLocked()
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
	if rr, ok := r.Body.(*replayReader); ok {
		// The buffer keeps the source's error for every reader, also those
		// the base transport takes through GetBody.
		return rr.b
	}
	body, s := watched(r.Body, r.ContentLength)
	if s == nil {
		return nil
	}
	r.Body = body
	return s
}

// watched returns body, of a request that declares length declared, as
// an attempt sends it, with the sentBody that records its read errors; a
// nil sentBody, and body as it is, for no body, a replay buffer's reader
// (the buffer records its source's failure itself) and a body known to be
// whole, which cannot fail and holds what the request says (memLen).
func watched(body io.ReadCloser, declared int64) (io.ReadCloser, *sentBody) {
	if _, replayed := body.(*replayReader); replayed || body == nil || body == http.NoBody {
		return body, nil
	}
	if n, ok := memLen(body); ok && n >= declared {
		return body, nil
	}
	s := newSentBody(body, declared)
	return s, s
}

// blameBody returns e as the caller's failure when reading the caller's
// body failed before the base transport gave up on it: the request cannot
// be sent whole, whatever else went wrong. net/http usually returns the
// body's error from RoundTrip, but a backend's reset in the same moment can
// win the race; the body's error then joins the chain, so that errors.Is
// finds it either way. The recorded error is evidence where text would
// not be.
func blameBody(e *AttemptError, body bodyWatch) *AttemptError {
	if body == nil {
		return e
	}
	berr := body.readErr()
	if berr == nil {
		return e
	}
	// e may be an error the body returned, another request's attempt
	// (a response body streamed as this request's body): never change it.
	callers := *e
	callers.Kind = retry.KindRequestBody
	if !errors.Is(e, berr) {
		callers.Err = fmt.Errorf("%w (reading the request body had failed: %w)", e.Err, berr)
	}
	return &callers
}

// sentBody is a request body as an attempt sends it; it keeps the first
// error other than io.EOF that reading it returned.
type sentBody struct {
	io.ReadCloser
	declared int64 // the request's ContentLength; 0 when unknown
	read     int64 // only the base transport's writer reads

	mu     sync.Mutex // Read runs on the base transport's writer goroutine
	err    error
	closed bool // the base transport closed the body: see Read
}

// newSentBody watches body, whose request declares length declared.
func newSentBody(body io.ReadCloser, declared int64) *sentBody {
	return &sentBody{ReadCloser: body, declared: declared}
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
		if s.err == nil && !(s.closed && closedError(err)) {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// closedError reports whether err is what a body returns for a read after
// (or interrupted by) its Close: the base transport's doing, not a broken
// body. Any other error, even after the close, is the body's own.
func closedError(err error) bool {
	return errors.Is(err, http.ErrBodyReadAfterClose) || errors.Is(err, os.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed)
}

// Close records that the base transport is done with the body: a read it
// interrupts may fail because of the close (a gateway's inbound body
// does), which is not the caller's body breaking.
func (s *sentBody) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.ReadCloser.Close()
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

// memLen returns how many bytes an in-memory body holds, and whether it
// is one: a *bytes.Buffer, *bytes.Reader or *strings.Reader, as
// http.NewRequest makes them, seen through io.NopCloser. Such a body
// reads from memory and cannot fail, so it stays unwrapped: the request
// allocates nothing more, and net/http still sends its headers and body
// together, which it does only for readers it knows. r is an any, not an
// io.Reader: looking into a NopCloser then asks no interface conversion
// of the runtime.
func memLen(r any) (int64, bool) {
	switch r := r.(type) {
	case *bytes.Buffer:
		return int64(r.Len()), true
	case *bytes.Reader:
		return int64(r.Len()), true
	case *strings.Reader:
		return int64(r.Len()), true
	}
	if t := reflect.TypeOf(r); t == nopCloserTypes[0] || t == nopCloserTypes[1] {
		return memLen(reflect.ValueOf(r).Field(0).Interface())
	}
	return 0, false
}
