//lint:file-ignore SA1019 x/net/http2.GoAwayError is what x/net/http2 returns up to Go 1.26; the classification must recognise it

package attempt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
		{"response bytes", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 3}, StageResponseStarted},
		{"response bytes before request done", Progress{GotConn: true, Written: 10, Read: 3}, StageResponseStarted},
		{"headers", Progress{GotConn: true, Written: 10, WroteRequest: true, Read: 30, HeadersReceived: true}, StageHeadersReceived},
		{"h2 nothing known", Progress{GotConn: true, HTTP2: true}, StageHeadersWritten},
		{"h2 shared counters ignored", Progress{GotConn: true, HTTP2: true, Read: 100}, StageHeadersWritten},
		{"h2 written", Progress{GotConn: true, HTTP2: true, WroteRequest: true}, StageRequestWritten},
		{"h2 headers", Progress{GotConn: true, HTTP2: true, WroteRequest: true, HeadersReceived: true}, StageHeadersReceived},
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
	tests := []struct {
		name        string
		err         error
		gotConn     bool
		want        Kind
		wantRefused bool
	}{
		{"econnreset", readOp(os.NewSyscallError("read", syscall.ECONNRESET)), true, KindReset, false},
		{"epipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, true, KindReset, false},
		{"econnaborted", fmt.Errorf("x: %w", syscall.ECONNABORTED), true, KindReset, false},
		{"eof", io.EOF, true, KindEOF, false},
		{"wrapped eof", fmt.Errorf("net/http: transport: %w", io.EOF), true, KindEOF, false},
		{"unexpected eof", io.ErrUnexpectedEOF, true, KindEOF, false},
		{"dial refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false, KindDial, false},
		{"dial reset is still dial", &net.OpError{Op: "dial", Err: syscall.ECONNRESET}, false, KindDial, false},
		{"dial timeout is dial", &net.OpError{Op: "dial", Err: timeoutErr{}}, false, KindDial, false},
		{"unknown without conn", errors.New("tls: handshake failure"), false, KindDial, false},
		{"unknown with conn", errors.New("malformed HTTP response"), true, KindOther, false},
		{"refused stream", http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream}, true, KindRefusedStream, true},
		{"refused stream, text only", fmt.Errorf("http2: Transport: cannot retry err [%v] after Request.Body was written; define Request.GetBody to avoid this error",
			http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream, Cause: errors.New("received from peer")}), true, KindRefusedStream, true},
		{"other stream error, text only", fmt.Errorf("cannot retry err [%v]", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}), true, KindOther, false},
		{"other stream error", http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}, true, KindOther, false},
		{"goaway", http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo}, true, KindGoAway, false},
		{"goaway unstarted", errors.New("http2: Transport received Server's graceful shutdown GOAWAY"), true, KindGoAway, true},
		{"server closed idle", errors.New("http: server closed idle connection"), true, KindServerClosedIdle, false},
		{"canceled", context.Canceled, true, KindCanceled, false},
		{"canceled over reset", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), true, KindCanceled, false},
		{"canceled over dial", &net.OpError{Op: "dial", Err: context.Canceled}, false, KindCanceled, false},
		{"deadline", context.DeadlineExceeded, true, KindDeadline, false},
		{"deadline over eof", fmt.Errorf("%w: %w", io.EOF, context.DeadlineExceeded), true, KindDeadline, false},
		{"net timeout", readOp(timeoutErr{}), true, KindDeadline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, refused := kindOf(tt.err, tt.gotConn)
			if kind != tt.want || refused != tt.wantRefused {
				t.Errorf("kindOf(%v) = %v, %v; want %v, %v", tt.err, kind, refused, tt.want, tt.wantRefused)
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
		{"canceled after write", context.Canceled, reused, StageRequestWritten,
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
