package transport

import "github.com/resilient-http/resilient/internal/attempt"

// AttemptError describes one failed attempt: its Stage (how far the request
// got), its Kind (why it failed), whether the connection was Reused and how
// long it had been idle (IdleFor), and the byte counts that prove the stage.
// The base transport's error stays in the chain, next to the sentinels below
// that apply, so both errors.Is and errors.As see them:
//
//	var ae *transport.AttemptError
//	if errors.As(err, &ae) && ae.Reused && errors.Is(err, transport.ErrResetBeforeHeaders) { ... }
//
// Its methods Unprocessed and ResetBeforeHeaders answer the two questions a
// retry decision needs. Only byte counts, error types and the request's
// context decide them: a backend can put any text into an error message.
type AttemptError = attempt.Error

// Stage is how far an attempt got before it ended; see the Stage constants.
// Stage.MayHaveReachedServer reports whether any request byte may have been
// delivered.
type Stage = attempt.Stage

// The stages of an attempt, in order.
const (
	// StageNotConnected: no connection was obtained; nothing was sent.
	StageNotConnected = attempt.StageNotConnected
	// StageNothingWritten: a connection was obtained; no request byte was written.
	StageNothingWritten = attempt.StageNothingWritten
	// StageHeadersWritten: part of the request was written; no response byte arrived.
	StageHeadersWritten = attempt.StageHeadersWritten
	// StageRequestWritten: the whole request was written; no response byte arrived.
	StageRequestWritten = attempt.StageRequestWritten
	// StageResponseStarted: response bytes arrived, but no valid header.
	StageResponseStarted = attempt.StageResponseStarted
	// StageHeadersReceived: the headers arrived; the body failed.
	StageHeadersReceived = attempt.StageHeadersReceived
)

// Kind is why an attempt failed; see the Kind constants.
type Kind = attempt.Kind

// The causes of a failed attempt.
const (
	// KindOther matches no other kind.
	KindOther = attempt.KindOther
	// KindDial: the connection could not be established.
	KindDial = attempt.KindDial
	// KindCanceled: the request's context was canceled (decided from the
	// context, not from the error).
	KindCanceled = attempt.KindCanceled
	// KindDeadline: the request's context deadline passed. A timeout of
	// the base transport is KindTimeout.
	KindDeadline = attempt.KindDeadline
	// KindEOF: the backend closed the connection (FIN).
	KindEOF = attempt.KindEOF
	// KindReset: the backend reset the connection (ECONNRESET, EPIPE).
	KindReset = attempt.KindReset
	// KindServerClosedIdle: net/http's "server closed idle connection", on
	// an HTTP/1 connection that had read no response byte.
	KindServerClosedIdle = attempt.KindServerClosedIdle
	// KindRefusedStream: an HTTP/2 REFUSED_STREAM, known by its type; before
	// the response headers the request was not processed (ServerRefused).
	KindRefusedStream = attempt.KindRefusedStream
	// KindGoAway: an HTTP/2 GOAWAY ended the stream. It never proves that
	// the request did not run.
	KindGoAway = attempt.KindGoAway
	// KindTimeout: a timeout of the base transport fired while the
	// request's context was still live.
	KindTimeout = attempt.KindTimeout
	// KindInvalidRequest: the request can never succeed as written.
	KindInvalidRequest = attempt.KindInvalidRequest
	// KindTLSCertificate: the server's certificate failed verification.
	KindTLSCertificate = attempt.KindTLSCertificate
	// KindDNSNotFound: DNS says the host does not exist.
	KindDNSNotFound = attempt.KindDNSNotFound
	// KindRequestBody: reading the caller's request body failed.
	KindRequestBody = attempt.KindRequestBody
)

// Sentinels matched by errors.Is on an *AttemptError's chain.
var (
	// ErrDial matches attempts that could not connect.
	ErrDial = attempt.ErrDial
	// ErrResetBeforeHeaders matches attempts whose connection was closed or
	// reset by the backend before the response headers arrived.
	ErrResetBeforeHeaders = attempt.ErrResetBeforeHeaders
	// ErrServerClosedIdle matches net/http's "http: server closed idle
	// connection", so that nobody has to match its text.
	ErrServerClosedIdle = attempt.ErrServerClosedIdle
	// ErrUnprocessed matches attempts that provably never reached the
	// backend's application, which are safe to repeat for any method: no
	// connection, a connection that carried no request byte, or a typed
	// HTTP/2 REFUSED_STREAM before the response. No error message proves
	// it, whatever it says.
	ErrUnprocessed = attempt.ErrUnprocessed
)
