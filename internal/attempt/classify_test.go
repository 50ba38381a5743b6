//lint:file-ignore SA1019 x/net/http2.GoAwayError is what x/net/http2 returns up to Go 1.26; the classification must recognise it

package attempt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

func TestProgressStage(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want retry.Stage
	}{
		{"no conn", Progress{}, retry.StageNotConnected},
		{"no conn ignores counters", Progress{Written: 5, Read: 5, WroteRequest: true}, retry.StageNotConnected},
		{"conn, nothing moved", Progress{GotConn: true}, retry.StageNothingWritten},
		{"part written", Progress{GotConn: true, Written: 10}, retry.StageHeadersWritten},
		{"all written", Progress{GotConn: true, Written: 10, WroteRequest: true}, retry.StageRequestWritten},
		// net/http reports the request written once it is buffered; the
		// flush that failed moved no byte.
		{"written to the buffer only", Progress{GotConn: true, WroteRequest: true}, retry.StageNothingWritten},
		{"h2 written without counted bytes", Progress{GotConn: true, HTTP2: true, WroteRequest: true}, retry.StageRequestWritten},
		{"response bytes", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 3}, retry.StageResponseStarted},
		{"response bytes before request done", Progress{GotConn: true, Written: 10, Read: 3}, retry.StageResponseStarted},
		{"headers", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 30, HeadersReceived: true}, retry.StageHeadersReceived},
		{"uncounted conn, nothing known", Progress{GotConn: true, Uncounted: true}, retry.StageHeadersWritten},
		{"uncounted conn, written", Progress{GotConn: true, Uncounted: true, WroteRequest: true}, retry.StageRequestWritten},
		{"uncounted conn, headers", Progress{GotConn: true, Uncounted: true, WroteRequest: true, HeadersReceived: true}, retry.StageHeadersReceived},
		{"h2 nothing known", Progress{GotConn: true, HTTP2: true}, retry.StageHeadersWritten},
		{"h2 shared counters ignored", Progress{GotConn: true, HTTP2: true, Read: 100}, retry.StageHeadersWritten},
		{"h2 written", Progress{GotConn: true, HTTP2: true, WroteRequest: true}, retry.StageRequestWritten},
		{"h2 headers", Progress{GotConn: true, HTTP2: true, WroteRequest: true, HeadersReceived: true}, retry.StageHeadersReceived},
		{"resent, nothing on the last conn, an earlier one written", Progress{GotConn: true, Earlier: retry.StageRequestWritten}, retry.StageRequestWritten},
		{"resent, the last conn got further", Progress{GotConn: true, Written: 10, Read: 3, Earlier: retry.StageHeadersWritten}, retry.StageResponseStarted},
		{"resent, nothing written anywhere", Progress{GotConn: true, Earlier: retry.StageNothingWritten}, retry.StageNothingWritten},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Stage(); got != tt.want {
				t.Errorf("Stage() = %v, want %v", got, tt.want)
			}
		})
	}
}

// timeoutErr is a net.Error that reports a timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func readOp(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Err: err}
}

func TestKindOf(t *testing.T) {
	var (
		none     = Progress{}
		h1       = Progress{GotConn: true, Written: 40, WroteRequest: true}
		h1Read   = Progress{GotConn: true, Written: 40, WroteRequest: true, Read: 86}
		h2       = Progress{GotConn: true, HTTP2: true, WroteRequest: true}
		h2Header = Progress{GotConn: true, HTTP2: true, WroteRequest: true, HeadersReceived: true}
		canceled = Progress{GotConn: true, Written: 40, WroteRequest: true, ContextErr: context.Canceled}
		deadline = Progress{GotConn: true, Written: 40, WroteRequest: true, ContextErr: context.DeadlineExceeded}
		invalid  = Progress{Invalid: errors.New("header field name \"bad name\" is not a token")}
	)
	refusedStream := http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream, Cause: errors.New("received from peer")}
	tests := []struct {
		name        string
		err         error
		p           Progress
		want        retry.Kind
		wantRefused bool
	}{
		{"econnreset", readOp(os.NewSyscallError("read", syscall.ECONNRESET)), h1, retry.KindReset, false},
		{"epipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, h1, retry.KindReset, false},
		{"econnaborted", fmt.Errorf("x: %w", syscall.ECONNABORTED), h1, retry.KindReset, false},
		{"eof", io.EOF, h1, retry.KindEOF, false},
		{"wrapped eof", fmt.Errorf("net/http: transport: %w", io.EOF), h1, retry.KindEOF, false},
		{"unexpected eof", io.ErrUnexpectedEOF, h1, retry.KindEOF, false},
		{"dial refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, none, retry.KindDial, false},
		{"dial reset is still dial", &net.OpError{Op: "dial", Err: syscall.ECONNRESET}, none, retry.KindDial, false},
		{"dial timeout is dial", &net.OpError{Op: "dial", Err: timeoutErr{}}, none, retry.KindDial, false},
		{"unknown without conn", errors.New("tls: handshake failure"), none, retry.KindDial, false},
		{"unknown with conn", errors.New("malformed HTTP response"), h1, retry.KindOther, false},

		{"dns not found wins over dial", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, none, retry.KindDNSNotFound, false},
		{"dns timeout is dial", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}}, none, retry.KindDial, false},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, none, retry.KindTLSCertificate, false},
		{"hostname mismatch", x509.HostnameError{Host: "example.com"}, none, retry.KindTLSCertificate, false},
		{"expired certificate", fmt.Errorf("tls: %w", x509.CertificateInvalidError{Reason: x509.Expired}), none, retry.KindTLSCertificate, false},
		{"handshake timeout is a timeout", timeoutErr{}, none, retry.KindTimeout, false},
		{"handshake reset is dial", &net.OpError{Op: "dial", Err: syscall.ECONNRESET}, none, retry.KindDial, false},
		{"invalid request wins over everything", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, invalid, retry.KindInvalidRequest, false},

		{"refused stream", http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream}, h2, retry.KindRefusedStream, true},
		{"refused stream after the response headers is no refusal", refusedStream, h2Header, retry.KindRefusedStream, false},
		{"refused stream type on http/1 is no refusal", refusedStream, h1, retry.KindRefusedStream, false},
		{"refused stream after the base resent from a connection that may have delivered it is no refusal", refusedStream,
			Progress{GotConn: true, HTTP2: true, Earlier: retry.StageHeadersWritten}, retry.KindRefusedStream, false},
		// x/net/http2 keeps only the text of a refusal it cannot retry for
		// want of a rewindable body: text is no evidence.
		{"refused stream, text only, is not refused", fmt.Errorf("http2: Transport: cannot retry err [%v] after Request.Body was written; define Request.GetBody to avoid this error",
			refusedStream), h2, retry.KindOther, false},
		{"other stream error, text only", fmt.Errorf("cannot retry err [%v]", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}), h2, retry.KindOther, false},
		{"other stream error", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}, h2, retry.KindOther, false},
		{"goaway", http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo}, h2, retry.KindGoAway, false},
		{"goaway with refusal words in its debug data", http2.GoAwayError{LastStreamID: 1, DebugData: "stream error: stream ID 1; REFUSED_STREAM"}, h2, retry.KindGoAway, false},
		// The unstarted stream's error is unexported: its text names the
		// kind on HTTP/2, but proves nothing.
		{"goaway unstarted, text only, is a label", errors.New("http2: Transport: cannot retry err [http2: Transport received Server's graceful shutdown GOAWAY] after Request.Body was written"), h2, retry.KindGoAway, false},
		{"net/http's goaway (go1.27), text only, is a label", errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""`), h2, retry.KindGoAway, false},
		{"goaway text on http/1 is no label", errors.New("http2: Transport received Server's graceful shutdown GOAWAY"), h1, retry.KindOther, false},
		{"server closed idle", errors.New("http: server closed idle connection"), Progress{GotConn: true, Reused: true}, retry.KindServerClosedIdle, false},
		{"server closed idle text after response bytes is no label",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: http: server closed idle connection"), h1Read, retry.KindOther, false},
		{"server closed idle text on http/2 is no label", errors.New("http: server closed idle connection"), h2, retry.KindOther, false},
		{"hostile header naming a refusal on http/1",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: stream error: stream ID 1; REFUSED_STREAM"), h1Read, retry.KindOther, false},
		{"hostile header naming a goaway on http/1",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: received Server's graceful shutdown GOAWAY"), h1Read, retry.KindOther, false},

		{"canceled", context.Canceled, canceled, retry.KindCanceled, false},
		{"canceled over reset", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), canceled, retry.KindCanceled, false},
		{"canceled over dial", &net.OpError{Op: "dial", Err: context.Canceled}, Progress{ContextErr: context.Canceled}, retry.KindCanceled, false},
		{"canceled context over an unrelated reset", syscall.ECONNRESET, canceled, retry.KindCanceled, false},
		{"canceled in the chain, context live, is not canceled", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), h1, retry.KindReset, false},
		{"deadline", context.DeadlineExceeded, deadline, retry.KindDeadline, false},
		{"deadline over eof", fmt.Errorf("%w: %w", io.EOF, context.DeadlineExceeded), deadline, retry.KindDeadline, false},
		{"deadline in the chain, context live, is a timeout", context.DeadlineExceeded, h1, retry.KindTimeout, false},
		{"net timeout, context live, is a timeout", readOp(timeoutErr{}), h1, retry.KindTimeout, false},
		{"net timeout, context expired, is a deadline", readOp(timeoutErr{}), deadline, retry.KindDeadline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, kind, refused := Classify(tt.err, tt.p)
			if kind != tt.want || refused != tt.wantRefused {
				t.Errorf("Classify(%v) = %v, refused %v; want %v, %v", tt.err, kind, refused, tt.want, tt.wantRefused)
			}
		})
	}
}
