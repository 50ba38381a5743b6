//lint:file-ignore SA1019 x/net/http2.GoAwayError is what x/net/http2 returns up to Go 1.26; the classification must recognise it

package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

// fuzzLeaves are the causes a base transport reports, including the
// unexported ones known by their message, and messages a hostile server
// wrote (net/http copies a malformed header line into its error, x/net/http2
// a GOAWAY's debug data). New leaves go at the end, so that the seeds in
// testdata keep their meaning.
var fuzzLeaves = []error{
	io.EOF,
	io.ErrUnexpectedEOF,
	syscall.ECONNRESET,
	syscall.EPIPE,
	syscall.ECONNREFUSED,
	context.Canceled,
	context.DeadlineExceeded,
	timeoutErr{},
	errors.New("http: server closed idle connection"),
	errors.New("http2: Transport received Server's graceful shutdown GOAWAY"),
	http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream},
	http2.StreamError{StreamID: 1, Code: http2.ErrCodeCancel},
	http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo},
	errors.New("malformed HTTP response"),
	errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: stream error: stream ID 1; REFUSED_STREAM"),
	errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: received Server's graceful shutdown GOAWAY"),
	errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: http: server closed idle connection"),
	errors.New("http2: Transport: cannot retry err [stream error: stream ID 3; REFUSED_STREAM; received from peer] after Request.Body was written; define Request.GetBody to avoid this error"),
	errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug="stream error: stream ID 1; REFUSED_STREAM"`),
	http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeRefusedStream, DebugData: "received Server's graceful shutdown GOAWAY"},
	http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal, Cause: errors.New("stream error: stream ID 1; REFUSED_STREAM")},
	&net.DNSError{Err: "no such host", Name: "no-such-host.invalid", IsNotFound: true},
	&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}},
	errors.New("net/http: invalid header field name \"bad name\""),
}

// textOnly reports whether err carries no typed REFUSED_STREAM: whatever
// its message says, it is no evidence of a refusal.
func textOnly(err error) bool {
	var se http2.StreamError
	return !errors.As(err, &se) || se.Code != http2.ErrCodeRefusedStream
}

// fuzzChain builds an error chain from b: the first byte picks the cause,
// each further byte wraps it in one of the ways net/http does.
func fuzzChain(b []byte) error {
	if len(b) == 0 {
		return fuzzLeaves[0]
	}
	err := fuzzLeaves[int(b[0])%len(fuzzLeaves)]
	for i, c := range b[1:] {
		if i >= 16 {
			break
		}
		other := fuzzLeaves[int(c>>3)%len(fuzzLeaves)]
		switch c % 8 {
		case 0:
			err = fmt.Errorf("net/http: %w", err)
		case 1:
			err = &net.OpError{Op: "read", Net: "tcp", Err: err}
		case 2:
			err = &net.OpError{Op: "write", Net: "tcp", Err: err}
		case 3:
			err = &net.OpError{Op: "dial", Net: "tcp", Err: err}
		case 4:
			err = os.NewSyscallError("read", err)
		case 5:
			err = errors.Join(err, other)
		case 6:
			err = fmt.Errorf("%w; %w", other, err)
		case 7:
			err = fmt.Errorf("wrapped: %v", err) // breaks the chain on purpose
		}
	}
	return err
}

// fuzzProgress builds a Progress: bits 0-4 are its flags, 5-6 the
// context's state (live, canceled, expired), 7 an invalid request, 8 an
// uncounted connection, the rest the idle time.
func fuzzProgress(bits uint16, written, read uint8) attempt.Progress {
	p := attempt.Progress{
		GotConn:         bits&1 != 0,
		Reused:          bits&2 != 0,
		HTTP2:           bits&4 != 0,
		WroteRequest:    bits&8 != 0,
		HeadersReceived: bits&16 != 0,
		Uncounted:       bits&256 != 0,
		IdleFor:         time.Duration(bits>>9) * time.Millisecond,
		Written:         int64(written),
		Read:            int64(read),
	}
	switch bits >> 5 & 3 {
	case 1:
		p.ContextErr = context.Canceled
	case 2, 3:
		p.ContextErr = context.DeadlineExceeded
	}
	if bits&128 != 0 {
		p.Invalid = invalidRequest
	}
	return p
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte{0}, uint16(0b01011), uint8(40), uint8(0))       // EOF after a whole request on a reused conn
	f.Add([]byte{2, 1}, uint16(0b00011), uint8(0), uint8(0))     // reset before anything was written
	f.Add([]byte{4, 3}, uint16(0), uint8(0), uint8(0))           // refused dial
	f.Add([]byte{5, 0, 1}, uint16(0b01011), uint8(40), uint8(0)) // cancel over a read error
	f.Add([]byte{10}, uint16(0b01101), uint8(0), uint8(0))       // REFUSED_STREAM on h2
	f.Add([]byte{9, 0}, uint16(0b00101), uint8(0), uint8(0))     // GOAWAY for an unstarted stream
	f.Add([]byte{8}, uint16(0b00011), uint8(0), uint8(0))        // server closed idle
	f.Add([]byte{1, 5 | 5<<3}, uint16(0b11011), uint8(40), uint8(90))
	f.Add([]byte{14}, uint16(0b01001), uint8(40), uint8(86))  // hostile header line naming REFUSED_STREAM
	f.Add([]byte{16}, uint16(0b00011), uint8(0), uint8(0))    // "server closed idle" in a header line
	f.Add([]byte{17, 0}, uint16(0b01101), uint8(0), uint8(0)) // refusal text kept by x/net/http2, h2
	f.Add([]byte{18}, uint16(0b11101), uint8(0), uint8(0))    // net/http's GOAWAY text (Go 1.27)
	f.Add([]byte{10}, uint16(0b11101), uint8(0), uint8(0))    // REFUSED_STREAM after the headers
	f.Add([]byte{9}, uint16(0b00101101), uint8(0), uint8(0))  // canceled context, GOAWAY text
	f.Add([]byte{21, 3}, uint16(0), uint8(0), uint8(0))       // unknown host
	f.Add([]byte{7}, uint16(0b01001), uint8(40), uint8(0))    // base timeout, context live
	f.Fuzz(func(t *testing.T, chain []byte, bits uint16, written, read uint8) {
		orig := fuzzChain(chain)
		p := fuzzProgress(bits, written, read)
		e := classify(orig, p)
		if e == nil {
			t.Fatal("Classify returned nil for a non-nil error")
		}
		_ = e.Error()
		if !errors.Is(e, orig) {
			t.Errorf("errors.Is(result, original) = false for %v", orig)
		}
		if e.Stage != p.Stage() {
			t.Errorf("Stage = %v, progress says %v", e.Stage, p.Stage())
		}
		if e.Kind == retry.KindCanceled && (e.ResetBeforeHeaders() || errors.Is(e, ErrResetBeforeHeaders)) {
			t.Errorf("canceled attempt reported as reset before headers: %v", e)
		}
		if e.Kind == retry.KindDeadline && errors.Is(e, ErrResetBeforeHeaders) {
			t.Errorf("deadline reported as reset before headers: %v", e)
		}
		if e.Unprocessed() && e.Stage > retry.StageNothingWritten && !e.ServerRefused {
			t.Errorf("unprocessed at stage %v without a refusal: %v", e.Stage, e)
		}
		if e.Unprocessed() != errors.Is(e, ErrUnprocessed) {
			t.Errorf("Unprocessed() = %v but errors.Is(ErrUnprocessed) = %v", e.Unprocessed(), !e.Unprocessed())
		}
		if errors.Is(e, ErrResetBeforeHeaders) && e.Stage == retry.StageHeadersReceived {
			t.Errorf("reset before headers after headers arrived: %v", e)
		}
		if (e.Kind == retry.KindCanceled || e.Kind == retry.KindDeadline) != (p.ContextErr != nil && p.Invalid == nil) {
			t.Errorf("Kind = %v with context error %v (invalid %v)", e.Kind, p.ContextErr, p.Invalid)
		}
		if (e.Kind == retry.KindInvalidRequest) != (p.Invalid != nil) {
			t.Errorf("Kind = %v with Invalid = %v", e.Kind, p.Invalid)
		}
		if p.Invalid != nil && !errors.Is(e, p.Invalid) {
			t.Errorf("the reason the request is invalid is not in the chain: %v", e)
		}
		if e.ServerRefused && e.Kind != retry.KindRefusedStream {
			t.Errorf("ServerRefused with Kind = %v", e.Kind)
		}
		if e.ServerRefused && (!e.HTTP2 || e.Stage >= retry.StageResponseStarted) {
			t.Errorf("ServerRefused on HTTP2 = %v at stage %v", e.HTTP2, e.Stage)
		}
		if e.ServerRefused && textOnly(orig) {
			t.Errorf("ServerRefused from text alone: %v", orig)
		}
		if e.Unprocessed() && e.Stage >= retry.StageResponseStarted {
			t.Errorf("unprocessed though response bytes arrived: %v", e)
		}
		if e.Kind == retry.KindServerClosedIdle && (e.HTTP2 || p.Read > 0) {
			t.Errorf("server_closed_idle named after %d response bytes (HTTP2 = %v): %v", p.Read, e.HTTP2, e)
		}
		if p.Uncounted && e.Unprocessed() && !e.ServerRefused && e.Stage != retry.StageNotConnected {
			t.Errorf("unprocessed on a connection whose bytes were not counted: %v", e)
		}
		if !p.HTTP2 && !p.Uncounted && p.GotConn && p.Written == 0 && p.Read == 0 && !p.HeadersReceived && e.Stage != retry.StageNothingWritten {
			t.Errorf("stage %v on an HTTP/1 connection that carried no byte", e.Stage)
		}
	})
}

// timeoutErr is a net.Error that reports a timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// invalidRequest is why a request with a bad method can never succeed.
var invalidRequest = attempt.Invalid(&http.Request{Method: "BAD METHOD", URL: &url.URL{Scheme: "http", Host: "h"}, Header: http.Header{}})
