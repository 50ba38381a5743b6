package retry

// Kind is why an attempt failed, independent of how far it got (its
// Stage). Error types, byte counts and the request's context decide it;
// an error's text at most names a kind whose error net/http does not
// export, and only where the server cannot have written that text.
type Kind uint8

const (
	// KindOther is a failure that matches no other kind.
	KindOther Kind = iota
	// KindDial is a failure to establish the connection (refused, no route,
	// a DNS failure other than an unknown host, a TLS handshake that failed
	// for another reason than the certificate).
	KindDial
	// KindCanceled is the request's context being canceled. It is decided
	// from the context, not from the error.
	KindCanceled
	// KindDeadline is the request's context deadline passing. It is
	// decided from the context: a timeout of the base transport is
	// KindTimeout, though its error matches context.DeadlineExceeded.
	KindDeadline
	// KindEOF is the peer closing the connection cleanly (FIN).
	KindEOF
	// KindReset is the peer resetting the connection (ECONNRESET, EPIPE).
	KindReset
	// KindServerClosedIdle is net/http's report that the server closed a
	// pooled connection just as it was reused. Its error is unexported, so
	// its message names it, and only on an HTTP/1 connection that had read
	// no response byte, where the server cannot have written that message.
	KindServerClosedIdle
	// KindRefusedStream is an HTTP/2 RST_STREAM with REFUSED_STREAM, known
	// by its type. Before the response headers it means the server did not
	// process the request (the attempt is unprocessed).
	KindRefusedStream
	// KindGoAway is an HTTP/2 GOAWAY that ended the stream. It is a name,
	// never proof that the request did not run: x/net/http2's GoAwayError
	// (up to Go 1.26) goes only to streams the server said it took. From Go
	// 1.27 net/http's own GOAWAY errors convert to no public type, and on
	// HTTP/2 connections their fixed messages name the kind.
	KindGoAway
	// KindTimeout is a timeout of the base transport (ResponseHeaderTimeout,
	// TLSHandshakeTimeout, a connection deadline) while the request's
	// context was still live: the attempt timed out, not the request.
	KindTimeout
	// KindInvalidRequest is a request that can never succeed as written:
	// an unsupported scheme, a missing host, an invalid method, header name
	// or header value. Repeating it cannot help.
	KindInvalidRequest
	// KindTLSCertificate is a failed verification of the server's
	// certificate. Repeating it cannot help; handshake resets and timeouts
	// are not this kind.
	KindTLSCertificate
	// KindDNSNotFound is a DNS answer that the host does not exist.
	KindDNSNotFound
	// KindRequestBody is the caller's request body failing to read: the
	// caller's failure, not the backend's.
	KindRequestBody
	// KindAttemptTimeout is an attempt that outlived Policy.AttemptTimeout
	// before its response headers arrived, while the request's context was
	// still live: the transport ended the attempt, not the request. Its
	// Stage says how far it got; StageNotConnected (a dial that did not
	// finish in time) proves the server never saw it.
	KindAttemptTimeout
)

var kindNames = [...]string{
	KindOther:            "other",
	KindDial:             "dial",
	KindCanceled:         "canceled",
	KindDeadline:         "deadline",
	KindEOF:              "eof",
	KindReset:            "reset",
	KindServerClosedIdle: "server_closed_idle",
	KindRefusedStream:    "refused_stream",
	KindGoAway:           "goaway",
	KindTimeout:          "timeout",
	KindInvalidRequest:   "invalid_request",
	KindTLSCertificate:   "tls_certificate",
	KindDNSNotFound:      "dns_not_found",
	KindRequestBody:      "request_body",
	KindAttemptTimeout:   "attempt_timeout",
}

// String returns the kind's snake_case name, suitable as a metric label.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}
