package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/resilient-http/resilient/retry"
)

// countingSource is a request body's source that counts its reads.
type countingSource struct {
	r     io.Reader
	reads int
}

func (s *countingSource) Read(p []byte) (int, error) {
	s.reads++
	return s.r.Read(p)
}

func (s *countingSource) Close() error { return nil }

// TestReplayBodyKeepsTheSourceError: once the source failed, it is never
// read again; every reader, the failing attempt's and any later one's,
// returns the source's error, and the buffer reports it.
func TestReplayBodyKeepsTheSourceError(t *testing.T) {
	errGone := errors.New("client went away")
	src := &countingSource{r: io.MultiReader(strings.NewReader(strings.Repeat("b", 100)), iotest.ErrReader(errGone))}
	b := newReplayBody(src, 1<<20)
	first, _ := b.reader()
	got, err := io.ReadAll(first)
	if len(got) != 100 || !errors.Is(err, errGone) {
		t.Fatalf("first reader: %d bytes, %v; want 100 bytes, then the source's error", len(got), err)
	}
	if b.readErr() != errGone {
		t.Fatalf("readErr() = %v, want the source's error", b.readErr())
	}
	reads := src.reads
	for i := range 2 {
		rd, err := b.getBody()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := rd.Read(make([]byte, 10)); n != 0 || err != errGone {
			t.Fatalf("reader %d: %d bytes, %v; want the source's error at once", i+2, n, err)
		}
	}
	if n, err := first.Read(make([]byte, 10)); err != errReplaced || n != 0 {
		t.Fatalf("replaced reader: %d bytes, %v; want errReplaced", n, err)
	}
	if src.reads != reads {
		t.Fatalf("the broken source was read %d more times", src.reads-reads)
	}
}

// TestWatchBody: an attempt's body is watched unless it cannot fail; the
// caller's request is never changed.
func TestWatchBody(t *testing.T) {
	custom := &countingSource{r: strings.NewReader("x")}
	tests := []struct {
		name    string
		body    io.Reader // as given to http.NewRequest
		watched bool
	}{
		{name: "no body", body: nil, watched: false},
		{name: "strings.Reader", body: strings.NewReader("x"), watched: false},
		{name: "bytes.Reader", body: bytes.NewReader([]byte("x")), watched: false},
		{name: "bytes.Buffer", body: bytes.NewBufferString("x"), watched: false},
		{name: "NopCloser of an in-memory reader", body: io.NopCloser(io.NopCloser(strings.NewReader("x"))), watched: false},
		{name: "NopCloser of a reader that can fail", body: io.NopCloser(custom), watched: true},
		{name: "a reader that can fail", body: custom, watched: true},
		{name: "NopCloser of nothing", body: io.NopCloser(nil), watched: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://backend.test/", tt.body)
			callers := req.Body
			r := req.WithContext(req.Context())
			w := watchBody(r)
			if req.Body != callers {
				t.Fatal("the caller's request body was replaced")
			}
			if (w != nil) != tt.watched {
				t.Fatalf("watched = %v, want %v", w != nil, tt.watched)
			}
			if tt.watched && r.Body == callers {
				t.Fatal("the attempt's body is not wrapped")
			}
			if !tt.watched && r.Body != callers {
				t.Fatal("a body that cannot fail was wrapped")
			}
		})
	}

	req, _ := http.NewRequest(http.MethodPost, "http://backend.test/", http.NoBody)
	if watchBody(req) != nil {
		t.Error("http.NoBody is watched")
	}
	rb := newReplayBody(custom, 1<<20)
	rd, _ := rb.reader()
	req.Body = rd
	if w := watchBody(req); w != rb || req.Body != rd {
		t.Error("a replayed body is not watched by its buffer, or was wrapped")
	}
}

// TestWatchBodyInMemoryAllocatesNothing: a request that http.NewRequest
// made from memory costs no allocation to watch.
func TestWatchBodyInMemoryAllocatesNothing(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://backend.test/", bytes.NewReader([]byte("payload")))
	if n := testing.AllocsPerRun(100, func() { _ = watchBody(req) }); n != 0 {
		t.Fatalf("watchBody allocates %v times for an in-memory body", n)
	}
}

// TestSentBodyKeepsTheFirstError: io.EOF is not a failure; the first other
// error is kept.
func TestSentBodyKeepsTheFirstError(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	s := newSentBody(io.NopCloser(strings.NewReader("")), 0)
	if _, err := s.Read(make([]byte, 1)); err != io.EOF || s.readErr() != nil {
		t.Fatalf("after EOF: %v, readErr %v; want no failure", err, s.readErr())
	}
	s.ReadCloser = io.NopCloser(iotest.ErrReader(first))
	_, _ = s.Read(make([]byte, 1))
	s.ReadCloser = io.NopCloser(iotest.ErrReader(second))
	_, _ = s.Read(make([]byte, 1))
	if s.readErr() != first {
		t.Fatalf("readErr() = %v, want the first error", s.readErr())
	}
}

// TestBlameBody: an attempt is the caller's failure when reading the
// caller's body failed, whatever error the base transport returned (a
// backend's reset in the same moment can win the race), with the body's
// error in its chain; an error the body returned is never changed.
func TestBlameBody(t *testing.T) {
	bodyErr := errors.New("client went away")
	other := &AttemptError{Stage: retry.StageHeadersReceived, Kind: retry.KindReset, Err: errors.New("reset")}
	failed := func(err error) bodyWatch { return &sentBody{err: err} }
	tests := []struct {
		name   string
		e      *AttemptError
		body   bodyWatch
		caller bool
	}{
		{name: "no body", e: &AttemptError{Kind: retry.KindEOF, Err: bodyErr}, body: nil},
		{name: "body did not fail", e: &AttemptError{Kind: retry.KindEOF, Err: io.ErrUnexpectedEOF}, body: failed(nil)},
		{name: "the body's error", e: &AttemptError{Kind: retry.KindOther, Err: bodyErr}, body: failed(bodyErr), caller: true},
		{name: "the body's error wrapped", e: &AttemptError{Kind: retry.KindOther, Err: fmt.Errorf("write: %w", bodyErr)}, body: failed(bodyErr), caller: true},
		{name: "another error while the body failed", e: &AttemptError{Kind: retry.KindReset, Err: errors.New("reset")}, body: failed(bodyErr), caller: true},
		{name: "an attempt error the body returned", e: other, body: failed(other), caller: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.e.Kind
			got := blameBody(tt.e, tt.body)
			if (got.Kind == retry.KindRequestBody) != tt.caller {
				t.Fatalf("kind %v, want the caller's: %v", got.Kind, tt.caller)
			}
			if tt.caller && tt.body.readErr() == bodyErr && !errors.Is(got, bodyErr) {
				t.Fatalf("%v: the body's error is not in the chain", got)
			}
			if tt.e.Kind != kind {
				t.Fatalf("the attempt error given was changed to %v", tt.e.Kind)
			}
		})
	}
}

// TestSentBodyIgnoresErrorsAfterClose: a read that fails because the base
// transport closed the body (a gateway's inbound body does that) is not
// the caller's failure.
func TestSentBodyIgnoresErrorsAfterClose(t *testing.T) {
	pr, pw := io.Pipe()
	s := newSentBody(pr, 0)
	_ = s.Close()
	_ = pw.Close()
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Fatal("a read of a closed pipe succeeded")
	}
	if err := s.readErr(); err != nil {
		t.Fatalf("readErr() = %v after the base closed the body, want nil", err)
	}
}

// closeCounter counts how often the caller's body is closed.
type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return nil }

// TestReplayBodyClosesTheSourceOnce: the caller's body is closed exactly
// once, also when the base transport took a reader through GetBody for a
// resend of its own and dropped it unclosed (x/net/http2 does when the
// context ends during its backoff), and never under a request that
// succeeded while the base may still be sending it.
func TestReplayBodyClosesTheSourceOnce(t *testing.T) {
	tests := []struct {
		name        string
		failed      bool
		closeBefore bool // the base closes the last reader before finish, not after
		wantAtEnd   int  // closes right after finish
	}{
		{name: "failed, last reader dropped or closed later", failed: true, wantAtEnd: 1},
		{name: "failed, last reader closed before", failed: true, closeBefore: true, wantAtEnd: 1},
		{name: "succeeded, base still sending", wantAtEnd: 0},
		{name: "succeeded, base done", closeBefore: true, wantAtEnd: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &closeCounter{Reader: strings.NewReader("payload")}
			b := newReplayBody(src, 1<<10)
			first, _ := b.reader()
			if _, err := io.ReadAll(first); err != nil {
				t.Fatal(err)
			}
			_ = first.Close()
			last, err := b.getBody() // the base's own resend
			if err != nil {
				t.Fatal(err)
			}
			if tt.closeBefore {
				_ = last.Close()
			}
			b.finish(tt.failed)
			if src.closes != tt.wantAtEnd {
				t.Errorf("after finish: %d closes, want %d", src.closes, tt.wantAtEnd)
			}
			_ = last.Close()
			_ = last.Close()
			if src.closes != 1 {
				t.Errorf("after the last reader's Close: %d closes, want 1", src.closes)
			}
		})
	}
}
