//lint:file-ignore SA1019 x/net/http2 is deprecated in favour of net/http's own HTTP/2 from Go 1.27; up to Go 1.26 it is the HTTP/2 implementation whose error types can be inspected

package attempt

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// Progress is what the transport observed of one attempt: the connection it
// got and the bytes that crossed it.
type Progress struct {
	// GotConn reports whether a connection was obtained.
	GotConn bool
	// Reused and IdleFor describe that connection.
	Reused  bool
	IdleFor time.Duration
	// HTTP2 reports an HTTP/2 connection; its byte counts are shared by all
	// streams and say nothing about this request.
	HTTP2 bool
	// Written and Read are the bytes this attempt moved on an HTTP/1
	// connection.
	Written int64
	Read    int64
	// WroteRequest reports that the whole request was written.
	WroteRequest bool
	// HeadersReceived reports that response headers arrived.
	HeadersReceived bool
}

// Stage derives how far the attempt got.
func (p Progress) Stage() Stage {
	switch {
	case !p.GotConn:
		return StageNotConnected
	case p.HeadersReceived:
		return StageHeadersReceived
	case p.HTTP2 && p.WroteRequest:
		return StageRequestWritten
	case p.HTTP2:
		// The stream's HEADERS frame may already be out; only the server's
		// refusal can prove otherwise.
		return StageHeadersWritten
	case p.Read > 0:
		return StageResponseStarted
	case p.WroteRequest:
		return StageRequestWritten
	case p.Written > 0:
		return StageHeadersWritten
	default:
		return StageNothingWritten
	}
}

// Classify wraps err, returned by the base transport for an attempt with
// progress p, into an *Error. It returns nil for a nil err.
func Classify(err error, p Progress) *Error {
	if err == nil {
		return nil
	}
	var prior *Error
	if errors.As(err, &prior) {
		return prior
	}
	e := &Error{
		Stage:   p.Stage(),
		Reused:  p.Reused,
		IdleFor: p.IdleFor,
		HTTP2:   p.HTTP2,
		Err:     err,
	}
	if !p.HTTP2 {
		e.BytesWritten, e.BytesRead = p.Written, p.Read
	}
	e.Kind, e.ServerRefused = kindOf(err, p.GotConn)
	return e
}

// Messages of errors that net/http and x/net/http2 do not export; matched
// here, once, so that nobody else has to.
const (
	msgServerClosedIdle = "http: server closed idle connection"
	msgGoAwayUnstarted  = "received Server's graceful shutdown GOAWAY"
	// x/net/http2 reports a refused stream for a request whose body it
	// cannot rewind as "cannot retry err [stream error: ...] ...", with %v:
	// the http2.StreamError is gone from the chain, only its text is left.
	msgStreamError = "stream error: stream ID "
)

// refusedStreamText reports whether msg carries the text of an
// http2.StreamError with code REFUSED_STREAM.
func refusedStreamText(msg string) bool {
	_, rest, ok := strings.Cut(msg, msgStreamError)
	return ok && strings.Contains(rest, "; "+http2.ErrCodeRefusedStream.String())
}

// kindOf names the cause of err and reports whether the server refused the
// request. The order matters: cancellation wins over whatever the
// cancellation caused, and dial failures over the errno they carry.
func kindOf(err error, gotConn bool) (kind Kind, refused bool) {
	var (
		opErr     *net.OpError
		streamErr http2.StreamError
		goAway    http2.GoAwayError
		netErr    net.Error
	)
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled):
		return KindCanceled, false
	case errors.Is(err, context.DeadlineExceeded):
		return KindDeadline, false
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return KindDial, false
	case errors.As(err, &streamErr) && streamErr.Code == http2.ErrCodeRefusedStream:
		return KindRefusedStream, true
	case refusedStreamText(msg):
		return KindRefusedStream, true
	case strings.Contains(msg, msgGoAwayUnstarted):
		return KindGoAway, true
	case errors.As(err, &goAway):
		return KindGoAway, false
	case strings.Contains(msg, msgServerClosedIdle):
		return KindServerClosedIdle, false
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return KindReset, false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF, false
	case errors.As(err, &netErr) && netErr.Timeout():
		return KindDeadline, false
	case !gotConn:
		return KindDial, false
	default:
		return KindOther, false
	}
}
