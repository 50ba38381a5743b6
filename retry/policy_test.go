package retry_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/retry"
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
	reset := &attempt.Error{Stage: attempt.StageRequestWritten, Kind: attempt.KindReset, Reused: true, Err: errors.New("reset")}
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
		{"PUT dial failure", req("PUT"), nil, &attempt.Error{Stage: attempt.StageNotConnected, Kind: attempt.KindDial}, nil, true, false, "unprocessed"},
		{"POST reset after write", req("POST"), nil, reset, nil, false, false, "not_idempotent"},
		{"POST with Idempotency-Key reset", req("POST", "Idempotency-Key", "k"), nil, reset, nil, true, true, "idempotent"},
		{"PATCH with X-Idempotency-Key reset", req("PATCH", "X-Idempotency-Key", "k"), nil, reset, nil, true, true, "idempotent"},
		{"POST nothing written", req("POST"), nil, &attempt.Error{Stage: attempt.StageNothingWritten, Kind: attempt.KindEOF, Reused: true}, nil, true, true, "unprocessed"},
		{"POST dial failure", req("POST"), nil, &attempt.Error{Stage: attempt.StageNotConnected, Kind: attempt.KindDial}, nil, true, false, "unprocessed"},
		{"POST refused stream", req("POST"), nil, &attempt.Error{Stage: attempt.StageRequestWritten, Kind: attempt.KindRefusedStream, HTTP2: true, ServerRefused: true}, nil, true, true, "unprocessed"},
		{"POST goaway unprocessed", req("POST"), nil, &attempt.Error{Stage: attempt.StageRequestWritten, Kind: attempt.KindGoAway, HTTP2: true, ServerRefused: true}, nil, true, true, "unprocessed"},
		{"GET body broke after headers", req("GET"), nil, &attempt.Error{Stage: attempt.StageHeadersReceived, Kind: attempt.KindReset}, nil, false, false, "response_started"},
		{"GET context canceled", req("GET").WithContext(canceled), nil, reset, nil, false, false, "context_done"},
		{"GET attempt canceled", req("GET"), nil, &attempt.Error{Stage: attempt.StageRequestWritten, Kind: attempt.KindCanceled}, nil, false, false, "context_done"},
		{"GET unclassified error", req("GET"), nil, errors.New("boom"), nil, false, false, "unclassified_error"},
		{"GET 502", req("GET"), resp(502), nil, nil, true, false, "status_502"},
		{"GET 503", req("GET"), resp(503), nil, nil, true, false, "status_503"},
		{"GET 504", req("GET"), resp(504), nil, nil, true, false, "status_504"},
		{"GET 500", req("GET"), resp(500), nil, nil, false, false, "status_final"},
		{"GET 429 not in default statuses", req("GET"), resp(429), nil, nil, false, false, "status_final"},
		{"POST 503", req("POST"), resp(503), nil, nil, false, false, "not_idempotent"},
		{"GET 503 Retry-After too long", req("GET"), resp(503, "Retry-After", "3600"), nil, nil, false, false, "retry_after_too_long"},
		{"GET 503 Retry-After beyond int64 seconds", req("GET"), resp(503, "Retry-After", "99999999999999999999"), nil, nil, false, false, "retry_after_too_long"},
		{"POST reset, hook allows", req("POST"), nil, reset, allow, true, true, "hook_allowed"},
		{"POST reset, hook declines", req("POST"), nil, reset, decline, false, false, "hook_declined"},
	}
	p := retry.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(retry.Attempt{Request: tt.req, Number: 1, Response: tt.resp, Err: tt.err}, tt.hook, now)
			if d.Retry != tt.retry || d.Immediate != tt.immediate || d.Reason != tt.reason {
				t.Fatalf("Decide = %+v, want retry=%v immediate=%v reason=%q", d, tt.retry, tt.immediate, tt.reason)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := retry.Policy{Statuses: []int{429, 503}}.Normalize()
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
			d := p.Decide(retry.Attempt{Request: req, Number: 1, Response: resp}, nil, now)
			if !d.Retry || d.Delay != tt.want || d.DelayKnown != tt.known {
				t.Fatalf("Decide = %+v, want delay %s known %v", d, tt.want, tt.known)
			}
		})
	}
}
