//lint:file-ignore SA1019 x/net/http2.GoAwayError is what x/net/http2 returns up to Go 1.26; the classification must recognise it

package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

func TestClassifySentinels(t *testing.T) {
	badName := attempt.Invalid(&http.Request{URL: &url.URL{Scheme: "http", Host: "h"}, Header: http.Header{"bad name": {"v"}}})
	reused := attempt.Progress{GotConn: true, Reused: true, IdleFor: time.Second, Written: 50, WroteRequest: true}
	tests := []struct {
		name  string
		err   error
		p     attempt.Progress
		stage retry.Stage
		is    []error
		isNot []error
	}{
		{"refused dial", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, attempt.Progress{}, retry.StageNotConnected,
			[]error{ErrDial, ErrUnprocessed, syscall.ECONNREFUSED}, []error{ErrResetBeforeHeaders, ErrServerClosedIdle}},
		{"eof after write", io.EOF, reused, retry.StageRequestWritten,
			[]error{ErrResetBeforeHeaders, io.EOF}, []error{ErrUnprocessed, ErrDial, ErrServerClosedIdle}},
		{"reset before write", syscall.ECONNRESET, attempt.Progress{GotConn: true, Reused: true}, retry.StageNothingWritten,
			[]error{ErrResetBeforeHeaders, ErrUnprocessed}, []error{ErrDial}},
		{"server closed idle", errors.New("http: server closed idle connection"), attempt.Progress{GotConn: true, Reused: true}, retry.StageNothingWritten,
			[]error{ErrServerClosedIdle, ErrResetBeforeHeaders, ErrUnprocessed}, []error{ErrDial}},
		{"eof in body", io.ErrUnexpectedEOF, attempt.Progress{GotConn: true, Written: 50, WroteRequest: true, Read: 60, HeadersReceived: true}, retry.StageHeadersReceived,
			[]error{io.ErrUnexpectedEOF}, []error{ErrResetBeforeHeaders, ErrUnprocessed}},
		{"refused stream", http2.StreamError{StreamID: 3, Code: http2.ErrCodeRefusedStream}, attempt.Progress{GotConn: true, HTTP2: true, WroteRequest: true}, retry.StageRequestWritten,
			[]error{ErrUnprocessed}, []error{ErrResetBeforeHeaders}},
		{"refusal text in a malformed response", errors.New("net/http: HTTP/1.x transport connection broken: malformed MIME header initial line: \" stream error: stream ID 1; REFUSED_STREAM\""),
			attempt.Progress{GotConn: true, Written: 50, WroteRequest: true, Read: 63}, retry.StageResponseStarted,
			nil, []error{ErrUnprocessed, ErrResetBeforeHeaders, ErrServerClosedIdle}},
		{"invalid request", errors.New("net/http: invalid header field name \"bad name\""), attempt.Progress{Invalid: badName}, retry.StageNotConnected,
			[]error{badName}, []error{ErrDial}},
		{"written to the buffer, flush failed", &net.OpError{Op: "write", Err: syscall.EPIPE}, attempt.Progress{GotConn: true, WroteRequest: true}, retry.StageNothingWritten,
			[]error{ErrUnprocessed, ErrResetBeforeHeaders, syscall.EPIPE}, []error{ErrDial}},
		{"canceled after write", context.Canceled, attempt.Progress{GotConn: true, Reused: true, IdleFor: time.Second, Written: 50, WroteRequest: true, ContextErr: context.Canceled}, retry.StageRequestWritten,
			[]error{context.Canceled}, []error{ErrResetBeforeHeaders, ErrUnprocessed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.err, tt.p)
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

func TestClassifyKeepsPrior(t *testing.T) {
	first := classify(io.EOF, attempt.Progress{GotConn: true, Reused: true, WroteRequest: true, Written: 9})
	wrapped := fmt.Errorf("outer: %w", first)
	if got := classify(wrapped, attempt.Progress{}); got != first {
		t.Fatalf("Classify re-classified an already classified error: %v", got)
	}
}

func TestClassifyByteCounts(t *testing.T) {
	h1 := classify(io.EOF, attempt.Progress{GotConn: true, Written: 7, Read: 3})
	if h1.BytesWritten != 7 || h1.BytesRead != 3 {
		t.Errorf("HTTP/1 bytes = %d/%d, want 7/3", h1.BytesWritten, h1.BytesRead)
	}
	h2 := classify(io.EOF, attempt.Progress{GotConn: true, HTTP2: true, Written: 7, Read: 3})
	if h2.BytesWritten != 0 || h2.BytesRead != 0 || !h2.HTTP2 {
		t.Errorf("HTTP/2 bytes = %d/%d (HTTP2=%v), want 0/0 and true", h2.BytesWritten, h2.BytesRead, h2.HTTP2)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		e    *AttemptError
		want string
	}{
		{&AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDial, Err: errors.New("connection refused")},
			"resilient: attempt failed (dial) at stage not_connected: connection refused"},
		{&AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindEOF, Reused: true, IdleFor: 1500 * time.Millisecond, Err: io.EOF},
			"resilient: attempt failed (eof) at stage request_written on a reused connection idle for 1.5s: EOF"},
		{&AttemptError{Stage: retry.StageHeadersReceived, Kind: retry.KindReset},
			"resilient: attempt failed (reset) at stage headers_received on a new connection"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}
