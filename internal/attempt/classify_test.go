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
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestProgressStage(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want Stage
	}{
		{"no conn", Progress{}, StageNotConnected},
		{"no conn ignores counters", Progress{Written: 5, Read: 5, WroteRequest: true}, StageNotConnected},
		{"conn, nothing moved", Progress{GotConn: true}, StageNothingWritten},
		{"part written", Progress{GotConn: true, Written: 10}, StageHeadersWritten},
		{"all written", Progress{GotConn: true, Written: 10, WroteRequest: true}, StageRequestWritten},
		// net/http reports the request written once it is buffered; the
		// flush that failed moved no byte.
		{"written to the buffer only", Progress{GotConn: true, WroteRequest: true}, StageNothingWritten},
		{"h2 written without counted bytes", Progress{GotConn: true, HTTP2: true, WroteRequest: true}, StageRequestWritten},
		{"response bytes", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 3}, StageResponseStarted},
		{"response bytes before request done", Progress{GotConn: true, Written: 10, Read: 3}, StageResponseStarted},
		{"headers", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 30, HeadersReceived: true}, StageHeadersReceived},
		{"uncounted conn, nothing known", Progress{GotConn: true, Uncounted: true}, StageHeadersWritten},
		{"uncounted conn, written", Progress{GotConn: true, Uncounted: true, WroteRequest: true}, StageRequestWritten},
		{"uncounted conn, headers", Progress{GotConn: true, Uncounted: true, WroteRequest: true, HeadersReceived: true}, StageHeadersReceived},
		{"h2 nothing known", Progress{GotConn: true, HTTP2: true}, StageHeadersWritten},
		{"h2 shared counters ignored", Progress{GotConn: true, HTTP2: true, Read: 100}, StageHeadersWritten},
		{"h2 written", Progress{GotConn: true, HTTP2: true, WroteRequest: true}, StageRequestWritten},
		{"h2 headers", Progress{GotConn: true, HTTP2: true, WroteRequest: true, HeadersReceived: true}, StageHeadersReceived},
		{"resent, nothing on the last conn, an earlier one written", Progress{GotConn: true, Earlier: StageRequestWritten}, StageRequestWritten},
		{"resent, the last conn got further", Progress{GotConn: true, Written: 10, Read: 3, Earlier: StageHeadersWritten}, StageResponseStarted},
		{"resent, nothing written anywhere", Progress{GotConn: true, Earlier: StageNothingWritten}, StageNothingWritten},
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
		want        Kind
		wantRefused bool
	}{
		{"econnreset", readOp(os.NewSyscallError("read", syscall.ECONNRESET)), h1, KindReset, false},
		{"epipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, h1, KindReset, false},
		{"econnaborted", fmt.Errorf("x: %w", syscall.ECONNABORTED), h1, KindReset, false},
		{"eof", io.EOF, h1, KindEOF, false},
		{"wrapped eof", fmt.Errorf("net/http: transport: %w", io.EOF), h1, KindEOF, false},
		{"unexpected eof", io.ErrUnexpectedEOF, h1, KindEOF, false},
		{"dial refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, none, KindDial, false},
		{"dial reset is still dial", &net.OpError{Op: "dial", Err: syscall.ECONNRESET}, none, KindDial, false},
		{"dial timeout is dial", &net.OpError{Op: "dial", Err: timeoutErr{}}, none, KindDial, false},
		{"unknown without conn", errors.New("tls: handshake failure"), none, KindDial, false},
		{"unknown with conn", errors.New("malformed HTTP response"), h1, KindOther, false},

		{"dns not found wins over dial", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, none, KindDNSNotFound, false},
		{"dns timeout is dial", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}}, none, KindDial, false},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, none, KindTLSCertificate, false},
		{"hostname mismatch", x509.HostnameError{Host: "example.com"}, none, KindTLSCertificate, false},
		{"expired certificate", fmt.Errorf("tls: %w", x509.CertificateInvalidError{Reason: x509.Expired}), none, KindTLSCertificate, false},
		{"handshake timeout is a timeout", timeoutErr{}, none, KindTimeout, false},
		{"handshake reset is dial", &net.OpError{Op: "dial", Err: syscall.ECONNRESET}, none, KindDial, false},
		{"invalid request wins over everything", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, invalid, KindInvalidRequest, false},

		{"refused stream", http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream}, h2, KindRefusedStream, true},
		{"refused stream after the response headers is no refusal", refusedStream, h2Header, KindRefusedStream, false},
		{"refused stream type on http/1 is no refusal", refusedStream, h1, KindRefusedStream, false},
		{"refused stream after the base resent from a connection that may have delivered it is no refusal", refusedStream,
			Progress{GotConn: true, HTTP2: true, Earlier: StageHeadersWritten}, KindRefusedStream, false},
		// x/net/http2 keeps only the text of a refusal it cannot retry for
		// want of a rewindable body: text is no evidence.
		{"refused stream, text only, is not refused", fmt.Errorf("http2: Transport: cannot retry err [%v] after Request.Body was written; define Request.GetBody to avoid this error",
			refusedStream), h2, KindOther, false},
		{"other stream error, text only", fmt.Errorf("cannot retry err [%v]", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}), h2, KindOther, false},
		{"other stream error", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}, h2, KindOther, false},
		{"goaway", http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo}, h2, KindGoAway, false},
		{"goaway with refusal words in its debug data", http2.GoAwayError{LastStreamID: 1, DebugData: "stream error: stream ID 1; REFUSED_STREAM"}, h2, KindGoAway, false},
		// The unstarted stream's error is unexported: its text names the
		// kind on HTTP/2, but proves nothing.
		{"goaway unstarted, text only, is a label", errors.New("http2: Transport: cannot retry err [http2: Transport received Server's graceful shutdown GOAWAY] after Request.Body was written"), h2, KindGoAway, false},
		{"net/http's goaway (go1.27), text only, is a label", errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""`), h2, KindGoAway, false},
		{"goaway text on http/1 is no label", errors.New("http2: Transport received Server's graceful shutdown GOAWAY"), h1, KindOther, false},
		{"server closed idle", errors.New("http: server closed idle connection"), Progress{GotConn: true, Reused: true}, KindServerClosedIdle, false},
		{"server closed idle text after response bytes is no label",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: http: server closed idle connection"), h1Read, KindOther, false},
		{"server closed idle text on http/2 is no label", errors.New("http: server closed idle connection"), h2, KindOther, false},
		{"hostile header naming a refusal on http/1",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: stream error: stream ID 1; REFUSED_STREAM"), h1Read, KindOther, false},
		{"hostile header naming a goaway on http/1",
			errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header line: received Server's graceful shutdown GOAWAY"), h1Read, KindOther, false},

		{"canceled", context.Canceled, canceled, KindCanceled, false},
		{"canceled over reset", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), canceled, KindCanceled, false},
		{"canceled over dial", &net.OpError{Op: "dial", Err: context.Canceled}, Progress{ContextErr: context.Canceled}, KindCanceled, false},
		{"canceled context over an unrelated reset", syscall.ECONNRESET, canceled, KindCanceled, false},
		{"canceled in the chain, context live, is not canceled", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), h1, KindReset, false},
		{"deadline", context.DeadlineExceeded, deadline, KindDeadline, false},
		{"deadline over eof", fmt.Errorf("%w: %w", io.EOF, context.DeadlineExceeded), deadline, KindDeadline, false},
		{"deadline in the chain, context live, is a timeout", context.DeadlineExceeded, h1, KindTimeout, false},
		{"net timeout, context live, is a timeout", readOp(timeoutErr{}), h1, KindTimeout, false},
		{"net timeout, context expired, is a deadline", readOp(timeoutErr{}), deadline, KindDeadline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Classify(tt.err, tt.p)
			if e.Kind != tt.want || e.ServerRefused != tt.wantRefused {
				t.Errorf("Classify(%v) = %v, refused %v; want %v, %v", tt.err, e.Kind, e.ServerRefused, tt.want, tt.wantRefused)
			}
		})
	}
}

func TestClassifySentinels(t *testing.T) {
	reused := Progress{GotConn: true, Reused: true, IdleFor: time.Second, Written: 50, WroteRequest: true}
	tests := []struct {
		name  string
		err   error
		p     Progress
		stage Stage
		is    []error
		isNot []error
	}{
		{"refused dial", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, Progress{}, StageNotConnected,
			[]error{ErrDial, ErrUnprocessed, syscall.ECONNREFUSED}, []error{ErrResetBeforeHeaders, ErrServerClosedIdle}},
		{"eof after write", io.EOF, reused, StageRequestWritten,
			[]error{ErrResetBeforeHeaders, io.EOF}, []error{ErrUnprocessed, ErrDial, ErrServerClosedIdle}},
		{"reset before write", syscall.ECONNRESET, Progress{GotConn: true, Reused: true}, StageNothingWritten,
			[]error{ErrResetBeforeHeaders, ErrUnprocessed}, []error{ErrDial}},
		{"server closed idle", errors.New("http: server closed idle connection"), Progress{GotConn: true, Reused: true}, StageNothingWritten,
			[]error{ErrServerClosedIdle, ErrResetBeforeHeaders, ErrUnprocessed}, []error{ErrDial}},
		{"eof in body", io.ErrUnexpectedEOF, Progress{GotConn: true, Written: 50, WroteRequest: true, Read: 60, HeadersReceived: true}, StageHeadersReceived,
			[]error{io.ErrUnexpectedEOF}, []error{ErrResetBeforeHeaders, ErrUnprocessed}},
		{"refused stream", http2.StreamError{StreamID: 3, Code: http2.ErrCodeRefusedStream}, Progress{GotConn: true, HTTP2: true, WroteRequest: true}, StageRequestWritten,
			[]error{ErrUnprocessed}, []error{ErrResetBeforeHeaders}},
		{"refusal text in a malformed response", errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header initial line: \" stream error: stream ID 1; REFUSED_STREAM\""),
			Progress{GotConn: true, Written: 50, WroteRequest: true, Read: 63}, StageResponseStarted,
			nil, []error{ErrUnprocessed, ErrResetBeforeHeaders, ErrServerClosedIdle}},
		{"invalid request", errors.New("net/http: invalid header field name \"bad name\""), Progress{Invalid: Invalid(&http.Request{URL: &url.URL{Scheme: "http", Host: "h"}, Header: http.Header{"bad name": {"v"}}})}, StageNotConnected,
			[]error{errInvalidRequest}, []error{ErrDial}},
		{"written to the buffer, flush failed", &net.OpError{Op: "write", Err: syscall.EPIPE}, Progress{GotConn: true, WroteRequest: true}, StageNothingWritten,
			[]error{ErrUnprocessed, ErrResetBeforeHeaders, syscall.EPIPE}, []error{ErrDial}},
		{"canceled after write", context.Canceled, Progress{GotConn: true, Reused: true, IdleFor: time.Second, Written: 50, WroteRequest: true, ContextErr: context.Canceled}, StageRequestWritten,
			[]error{context.Canceled}, []error{ErrResetBeforeHeaders, ErrUnprocessed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Classify(tt.err, tt.p)
			if e.Stage != tt.stage {
				t.Errorf("Stage = %v, want %v", e.Stage, tt.stage)
			}
			if !errors.Is(e, tt.err) {
				t.Errorf("errors.Is(e, original) = false")
			}
			for _, s := range tt.is {
				if !errors.Is(e, s) {
					t.Errorf("errors.Is(%v, %v) = false, want true", e, s)
				}
			}
			for _, s := range tt.isNot {
				if errors.Is(e, s) {
					t.Errorf("errors.Is(%v, %v) = true, want false", e, s)
				}
			}
		})
	}
}

func TestClassifyNil(t *testing.T) {
	if e := Classify(nil, Progress{GotConn: true}); e != nil {
		t.Fatalf("Classify(nil) = %v, want nil", e)
	}
}

func TestClassifyKeepsPrior(t *testing.T) {
	first := Classify(io.EOF, Progress{GotConn: true, Reused: true, WroteRequest: true, Written: 9})
	wrapped := fmt.Errorf("outer: %w", first)
	if got := Classify(wrapped, Progress{}); got != first {
		t.Fatalf("Classify re-classified an already classified error: %v", got)
	}
}

func TestClassifyByteCounts(t *testing.T) {
	h1 := Classify(io.EOF, Progress{GotConn: true, Written: 7, Read: 3})
	if h1.BytesWritten != 7 || h1.BytesRead != 3 {
		t.Errorf("HTTP/1 bytes = %d/%d, want 7/3", h1.BytesWritten, h1.BytesRead)
	}
	h2 := Classify(io.EOF, Progress{GotConn: true, HTTP2: true, Written: 7, Read: 3})
	if h2.BytesWritten != 0 || h2.BytesRead != 0 || !h2.HTTP2 {
		t.Errorf("HTTP/2 bytes = %d/%d (HTTP2=%v), want 0/0 and true", h2.BytesWritten, h2.BytesRead, h2.HTTP2)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Stage: StageNotConnected, Kind: KindDial, Err: errors.New("connection refused")},
			"resilient: attempt failed (dial) at stage not_connected: connection refused"},
		{&Error{Stage: StageRequestWritten, Kind: KindEOF, Reused: true, IdleFor: 1500 * time.Millisecond, Err: io.EOF},
			"resilient: attempt failed (eof) at stage request_written on a reused connection idle for 1.5s: EOF"},
		{&Error{Stage: StageHeadersReceived, Kind: KindReset},
			"resilient: attempt failed (reset) at stage headers_received on a new connection"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	for s := StageNotConnected; s <= StageHeadersReceived; s++ {
		if name := s.String(); name == "unknown" || name == "" || strings.ContainsAny(name, " -") {
			t.Errorf("Stage(%d).String() = %q", s, name)
		}
	}
	if got := Stage(200).String(); got != "unknown" {
		t.Errorf("Stage(200).String() = %q, want unknown", got)
	}
	for k := KindOther; k <= KindRequestBody; k++ {
		if name := k.String(); name == "unknown" || name == "" || strings.ContainsAny(name, " -") {
			t.Errorf("Kind(%d).String() = %q", k, name)
		}
	}
	if got := Kind(200).String(); got != "unknown" {
		t.Errorf("Kind(200).String() = %q, want unknown", got)
	}
}
