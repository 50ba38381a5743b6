//lint:file-ignore SA1019 x/net/http2 is deprecated in favour of net/http's own HTTP/2 from Go 1.27; up to Go 1.26 it is the HTTP/2 implementation whose error types can be inspected

package attempt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

// Progress is what the transport observed of one attempt: the connection it
// got, the bytes that crossed it, and the request's own state when the
// attempt failed.
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
	// Uncounted reports a connection whose bytes were not counted (one the
	// transport could not wrap): Written and Read then prove nothing.
	Uncounted bool
	// WroteRequest reports that net/http considers the whole request
	// written. On HTTP/1 it does so once the request is in its write
	// buffer, before the buffer is flushed, so only Written proves that a
	// byte left.
	WroteRequest bool
	// HeadersReceived reports that response headers arrived.
	HeadersReceived bool
	// Interim reports that an interim (1xx) response arrived: the server
	// had read the request, whatever it says later. On HTTP/2 it is the
	// only sign of a response byte before the headers.
	Interim bool
	// ContextErr is the request context's Err when the attempt failed; nil
	// while the context was live. Only it makes a failure retry.KindCanceled or
	// retry.KindDeadline: a timeout of the base transport also matches
	// context.DeadlineExceeded, and is retry.KindTimeout.
	ContextErr error
	// Invalid is why the request can never succeed as written (see
	// Invalid), or nil. It makes the failure retry.KindInvalidRequest.
	Invalid error
	// Earlier is the furthest stage that an earlier connection of the same
	// attempt reached: the base transport sent the request again by itself
	// (net/http does for a replayable request on a reused connection, and
	// x/net/http2 for a stream it believes unprocessed). What the last
	// connection carried then proves nothing about the request, since an
	// earlier one may have delivered it: the attempt's stage is at least
	// Earlier, and no refusal of the last connection makes it unprocessed.
	Earlier retry.Stage
}

// Stage derives how far the attempt got: on its last connection, or on an
// earlier one, whichever got further.
func (p Progress) Stage() retry.Stage {
	return max(p.lastStage(), p.Earlier)
}

// lastStage derives how far the attempt got on its last connection.
func (p Progress) lastStage() retry.Stage {
	switch {
	case !p.GotConn:
		return retry.StageNotConnected
	case p.HeadersReceived:
		return retry.StageHeadersReceived
	case p.Interim:
		return retry.StageResponseStarted
	case p.HTTP2 && p.WroteRequest:
		return retry.StageRequestWritten
	case p.HTTP2, p.Uncounted && !p.WroteRequest:
		// The stream's HEADERS frame, or the request's first bytes, may
		// already be out; nothing counted proves otherwise.
		return retry.StageHeadersWritten
	case p.Uncounted:
		return retry.StageRequestWritten
	case p.Read > 0:
		return retry.StageResponseStarted
	case p.Written == 0:
		// net/http reports the request written once it is buffered; a
		// flush that fails moves no byte, and no byte is nothing sent.
		return retry.StageNothingWritten
	case p.WroteRequest:
		return retry.StageRequestWritten
	default:
		return retry.StageHeadersWritten
	}
}

// Classify says how far an attempt with progress p got, why it failed
// with err, returned by the base transport, and whether the server refused
// the request in the protocol: the Stage, Kind and ServerRefused of
// transport.AttemptError.
//
// Only error types, byte counts and the request's context are evidence of
// what happened: a server can put any text into an error message (net/http
// copies a malformed header line into its error, x/net/http2 a GOAWAY's
// debug data). The message of an error net/http does not export may name
// the Kind, where the server could not have written it; it never makes the
// attempt unprocessed.
func Classify(err error, p Progress) (stage retry.Stage, kind retry.Kind, serverRefused bool) {
	stage = p.Stage()
	kind = kindOf(err, p)
	// A refusal is the cause only when nothing outranks it (a done
	// context), as the Kind says.
	return stage, kind, kind == retry.KindRefusedStream && refused(err, p, stage)
}

// refused reports whether the server said, in the protocol, that it did not
// process the request: an HTTP/2 RST_STREAM with REFUSED_STREAM (RFC 9113,
// section 8.7) before any response arrived. x/net/http2 and net/http
// return it typed when they give up retrying it themselves; when they
// cannot rewind the body they keep only its text, which is no evidence.
//
// A GOAWAY never is: the stream it leaves unprocessed is failed with an
// unexported error (x/net/http2 retries it itself when it can rewind the
// body), and its GoAwayError goes only to streams the server said it took.
func refused(err error, p Progress, s retry.Stage) bool {
	var se http2.StreamError
	return p.HTTP2 && s < retry.StageResponseStarted && !p.Earlier.MayHaveReachedServer() &&
		errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream
}

// Messages of errors that net/http and x/net/http2 do not export. They
// only ever name a retry.Kind, and only where the server cannot have written
// them: see labelOf.
const (
	// net/http's errServerClosedIdle: its read of a pooled HTTP/1
	// connection found the server's FIN before any response byte.
	msgServerClosedIdle = "http: server closed idle connection"
	// The start of net/http's own http2 GoAwayError (Go 1.27), which
	// converts to no public type: the server sent GOAWAY and closed the
	// connection.
	msgGoAwayClosed = "http2: server sent GOAWAY and closed the connection"
	// x/net/http2's and net/http's error for a stream above a GOAWAY's last
	// stream ID, which they keep only as text (inside "cannot retry err
	// [...]") when the body cannot be rewound.
	msgGoAwayUnstarted = "http2: Transport received Server's graceful shutdown GOAWAY"
)

// kindOf names the cause of err. The order matters: an invalid request and
// a done context win over whatever they caused, verdicts that no retry can
// change over the dial failure that carries them, and dial failures over
// the errno they carry.
func kindOf(err error, p Progress) retry.Kind {
	var (
		opErr     *net.OpError
		dnsErr    *net.DNSError
		streamErr http2.StreamError
		goAway    http2.GoAwayError
		netErr    net.Error
	)
	switch {
	case p.Invalid != nil:
		return retry.KindInvalidRequest
	case errors.Is(p.ContextErr, context.Canceled):
		return retry.KindCanceled
	case p.ContextErr != nil:
		return retry.KindDeadline
	case certificateError(err):
		return retry.KindTLSCertificate
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return retry.KindDNSNotFound
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return retry.KindDial
	case errors.As(err, &streamErr) && streamErr.Code == http2.ErrCodeRefusedStream:
		return retry.KindRefusedStream
	case errors.As(err, &goAway):
		return retry.KindGoAway
	}
	if k, ok := labelOf(err, p); ok {
		return k
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		// The request's context was live: net/http's response header
		// timeout, a TLS handshake timeout or a connection deadline.
		return retry.KindTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return retry.KindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return retry.KindEOF
	case !p.GotConn:
		return retry.KindDial
	default:
		return retry.KindOther
	}
}

// labelOf names a failure from the message of an error net/http does not
// export, where the server cannot have written that message: on HTTP/1
// only while no response byte was read (afterwards a malformed header line
// may be anything), and the HTTP/2 messages only on HTTP/2 connections.
// A label is a name, never evidence that the request did not run.
func labelOf(err error, p Progress) (retry.Kind, bool) {
	switch {
	case !p.GotConn:
		return 0, false
	case p.HTTP2:
		if anyInChain(err, func(e error) bool {
			msg := e.Error()
			return strings.HasPrefix(msg, msgGoAwayClosed) || strings.Contains(msg, msgGoAwayUnstarted)
		}) {
			return retry.KindGoAway, true
		}
	case p.Read == 0:
		if anyInChain(err, func(e error) bool { return e.Error() == msgServerClosedIdle }) {
			return retry.KindServerClosedIdle, true
		}
	}
	return 0, false
}

// certificateError reports whether err is a failed verification of the
// server's certificate, by type only.
func certificateError(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// anyInChain reports whether match holds for err or any error it wraps.
func anyInChain(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, match) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
