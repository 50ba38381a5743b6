package transport

import (
	"errors"
	"io"
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
	gen   int  // the reader that may read now
	done  bool // the loop ended: closing the current reader closes src
	shut  bool // the current reader was closed
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

// finish marks the end of the loop: the source is closed as soon as the
// last attempt's transport is done with its reader.
func (b *replayBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.shut {
		b.src.Close()
	}
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
	if err == io.EOF {
		b.eof = true
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
		return b.src.Close()
	}
	return nil
}
