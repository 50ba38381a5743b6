package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

func TestDefaultPolicy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := func(method string, header ...string) *http.Request {
		r, _ := http.NewRequest(method, "http://backend.test/", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	resp := func(code int, header ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	reset := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Reused: true, Err: errors.New("reset")}
	allow := func(retry.Attempt) bool { return true }
	decline := func(retry.Attempt) bool { return false }
	tests := []struct {
		name      string
		req       *http.Request
		resp      *http.Response
		err       error
		hook      retry.Hook
		retry     bool
		immediate bool
		reason    string
	}{
		{"GET reset before headers on reused conn", req("GET"), nil, reset, nil, true, true, "idempotent"},
		{"PUT dial failure", req("PUT"), nil, &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDial}, nil, true, false, "unprocessed"},
		{"POST reset after write", req("POST"), nil, reset, nil, false, false, "not_idempotent"},
		{"GET attempt timeout", req("GET"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindAttemptTimeout}, nil, true, false, "attempt_timeout"},
		{"POST attempt timeout after write", req("POST"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindAttemptTimeout}, nil, false, false, "not_idempotent"},
		{"POST attempt timeout while dialing", req("POST"), nil, &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindAttemptTimeout}, nil, true, false, "unprocessed"},
		{"POST attempt timeout, hook allows", req("POST"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindAttemptTimeout}, func(retry.Attempt) bool { return true }, true, false, "hook_allowed"},
		{"POST with Idempotency-Key reset", req("POST", "Idempotency-Key", "k"), nil, reset, nil, true, true, "idempotent"},
		{"PATCH with X-Idempotency-Key reset", req("PATCH", "X-Idempotency-Key", "k"), nil, reset, nil, true, true, "idempotent"},
		{"POST nothing written", req("POST"), nil, &transport.AttemptError{Stage: retry.StageNothingWritten, Kind: retry.KindEOF, Reused: true}, nil, true, true, "unprocessed"},
		{"POST dial failure", req("POST"), nil, &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDial}, nil, true, false, "unprocessed"},
		{"POST refused stream", req("POST"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindRefusedStream, HTTP2: true, ServerRefused: true}, nil, true, true, "unprocessed"},
		{"POST goaway unprocessed", req("POST"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindGoAway, HTTP2: true, ServerRefused: true}, nil, true, true, "unprocessed"},
		{"GET body broke after headers", req("GET"), nil, &transport.AttemptError{Stage: retry.StageHeadersReceived, Kind: retry.KindReset}, nil, false, false, "response_started"},
		{"GET context canceled", req("GET").WithContext(canceled), nil, reset, nil, false, false, "context_done"},
		{"GET attempt canceled, context live", req("GET"), nil, &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindCanceled}, nil, true, false, "idempotent"},
		{"GET unclassified error", req("GET"), nil, errors.New("boom"), nil, false, false, "unclassified_error"},
		{"GET 502", req("GET"), resp(502), nil, nil, true, false, "status_502"},
		{"GET 503", req("GET"), resp(503), nil, nil, true, false, "status_503"},
		{"GET 504", req("GET"), resp(504), nil, nil, true, false, "status_504"},
		{"GET 500", req("GET"), resp(500), nil, nil, false, false, ""},
		{"GET 429 not in default statuses", req("GET"), resp(429), nil, nil, false, false, ""},
		{"POST 503", req("POST"), resp(503), nil, nil, false, false, "not_idempotent"},
		{"GET 503 Retry-After too long", req("GET"), resp(503, "Retry-After", "3600"), nil, nil, false, false, "retry_after_too_long"},
		{"GET 503 Retry-After beyond int64 seconds", req("GET"), resp(503, "Retry-After", "99999999999999999999"), nil, nil, false, false, "retry_after_too_long"},
		{"POST reset, hook allows", req("POST"), nil, reset, allow, true, true, "hook_allowed"},
		{"POST reset, hook declines", req("POST"), nil, reset, decline, false, false, "hook_declined"},
	}
	p := retry.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.Hook = tt.hook
			d := q.Decide(retry.Attempt{Request: tt.req, Number: 1, Response: tt.resp, Err: tt.err}, &retry.State{}, now)
			// An immediate retry waits for nothing; another waits for the BackOff.
			immediate := d.Retry && d.Wait == 0
			if d.Retry != tt.retry || immediate != tt.immediate || d.Reason != tt.reason {
				t.Fatalf("Decide = %+v, want retry=%v immediate=%v reason=%q", d, tt.retry, tt.immediate, tt.reason)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := retry.Policy{Statuses: []int{429, 503}}
	req, _ := http.NewRequest("GET", "http://backend.test/", nil)
	tests := []struct {
		header string
		code   int
		want   time.Duration
		known  bool
	}{
		{"2", 503, 2 * time.Second, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 429, 5 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 503, 0, true},
		{"soon", 503, 0, false},
		{"-1", 429, 0, false},
		{"", 503, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.code, Header: http.Header{"Retry-After": {tt.header}}}
			d := p.Decide(retry.Attempt{Request: req, Number: 1, Response: resp}, &retry.State{}, now)
			// Without a Retry-After, the default BackOff's first interval: 50ms, jitter 0.5.
			backedOff := d.Wait >= 25*time.Millisecond && d.Wait <= 75*time.Millisecond
			if !d.Retry || tt.known && d.Wait != tt.want || !tt.known && !backedOff {
				t.Fatalf("Decide = %+v, want delay %s known %v", d, tt.want, tt.known)
			}
		})
	}
}

// TestDecideContextOnlyFromRequest: the request's context, and nothing in
// the attempt's error, says that the request is over. A timeout of the
// base transport (ResponseHeaderTimeout) ends one attempt; its error
// matches context.DeadlineExceeded all the same.
func TestDecideContextOnlyFromRequest(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	headerTimeout := fmt.Errorf("net/http: timeout awaiting response headers: %w", context.DeadlineExceeded)
	timedOut := func(kind retry.Kind) *transport.AttemptError {
		return &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: kind, Err: headerTimeout}
	}
	tests := []struct {
		name   string
		method string
		ctx    context.Context
		err    error
		retry  bool
		reason string
	}{
		{name: "GET base timeout", method: "GET", ctx: context.Background(), err: timedOut(retry.KindTimeout), retry: true, reason: "idempotent"},
		{name: "GET base timeout classified as deadline", method: "GET", ctx: context.Background(), err: timedOut(retry.KindDeadline), retry: true, reason: "idempotent"},
		{name: "POST base timeout", method: "POST", ctx: context.Background(), err: timedOut(retry.KindTimeout), reason: "not_idempotent"},
		{name: "POST base timeout classified as deadline", method: "POST", ctx: context.Background(), err: timedOut(retry.KindDeadline), reason: "not_idempotent"},
		{name: "POST timeout while dialing", method: "POST", ctx: context.Background(), err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindTimeout}, retry: true, reason: "unprocessed"},
		{name: "GET context deadline passed", method: "GET", ctx: expired, err: timedOut(retry.KindDeadline), reason: "context_done"},
	}
	p := retry.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(tt.ctx, tt.method, "http://backend.test/", nil)
			d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: tt.err}, &retry.State{}, now)
			if d.Retry != tt.retry || d.Reason != tt.reason {
				t.Fatalf("Decide = %+v, want retry=%v reason=%q", d, tt.retry, tt.reason)
			}
		})
	}
}

// TestDecideFailuresRepeatingCannotCure: such failures run once, whatever
// the method or the hook, and a retry that could help against DNS runs
// once, without a budget token.
func TestDecideFailuresRepeatingCannotCure(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bodyErr := errors.New("client went away")
	tests := []struct {
		name   string
		method string
		number int
		err    *transport.AttemptError
		retry  bool
		free   bool
		reason string
	}{
		{name: "GET invalid request", method: "GET", number: 1, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindInvalidRequest}, reason: "invalid_request"},
		{name: "POST invalid request", method: "POST", number: 1, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindInvalidRequest}, reason: "invalid_request"},
		{name: "GET certificate", method: "GET", number: 1, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindTLSCertificate}, reason: "tls_certificate"},
		{name: "PUT caller's body broke", method: "PUT", number: 1, err: &transport.AttemptError{Stage: retry.StageHeadersWritten, Kind: retry.KindRequestBody, Reused: true, Err: bodyErr}, reason: "request_body"},
		{name: "POST caller's body broke before a byte went out", method: "POST", number: 1, err: &transport.AttemptError{Stage: retry.StageNothingWritten, Kind: retry.KindRequestBody, Reused: true, Err: bodyErr}, reason: "request_body"},
		{name: "GET unknown host, first attempt", method: "GET", number: 1, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDNSNotFound}, retry: true, free: true, reason: "dns_not_found"},
		{name: "POST unknown host, first attempt", method: "POST", number: 1, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDNSNotFound}, retry: true, free: true, reason: "dns_not_found"},
		{name: "GET unknown host, second attempt", method: "GET", number: 2, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDNSNotFound}, reason: "dns_not_found"},
		{name: "GET unknown host, third attempt", method: "GET", number: 3, err: &transport.AttemptError{Stage: retry.StageNotConnected, Kind: retry.KindDNSNotFound}, reason: "dns_not_found"},
	}
	p := retry.Policy{MaxAttempts: 5}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://backend.test/", nil)
			hook := func(retry.Attempt) bool {
				t.Error("the hook was asked about a failure that no retry can cure")
				return true
			}
			if tt.retry {
				hook = nil
			}
			q := p
			q.Hook = hook
			// A budget that denies every retry: only a free one runs.
			s := retry.State{Budget: spentBudget()}
			d := q.Decide(retry.Attempt{Request: req, Number: tt.number, Err: tt.err}, &s, now)
			if d.Retry != tt.retry || d.Retry && !tt.free || d.Reason != tt.reason {
				t.Fatalf("Decide = %+v, want retry=%v free=%v reason=%q", d, tt.retry, tt.free, tt.reason)
			}
		})
	}
}

// TestStaleConnection: the hook allows only a loss of a pooled connection
// before any response byte; a server that answered part of a status line
// had read the request.
func TestStaleConnection(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "reset after the request, reused", err: &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Reused: true}, want: true},
		{name: "EOF while writing, reused", err: &transport.AttemptError{Stage: retry.StageHeadersWritten, Kind: retry.KindEOF, Reused: true}, want: true},
		{name: "server closed idle, reused", err: &transport.AttemptError{Stage: retry.StageNothingWritten, Kind: retry.KindServerClosedIdle, Reused: true}, want: true},
		{name: "reset after part of the status line, reused", err: &transport.AttemptError{Stage: retry.StageResponseStarted, Kind: retry.KindReset, Reused: true, BytesRead: 5}, want: false},
		{name: "EOF after part of the status line, reused", err: &transport.AttemptError{Stage: retry.StageResponseStarted, Kind: retry.KindEOF, Reused: true, BytesRead: 5}, want: false},
		{name: "reset on a new connection", err: &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset}, want: false},
		{name: "timeout, reused", err: &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindTimeout, Reused: true}, want: false},
		{name: "unclassified", err: errors.New("boom"), want: false},
	}
	req, _ := http.NewRequest("POST", "http://backend.test/", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retry.StaleConnection(retry.Attempt{Request: req, Number: 1, Err: tt.err}); got != tt.want {
				t.Fatalf("StaleConnection = %v, want %v", got, tt.want)
			}
		})
	}
}
