package retry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
)

// maxRetryAfter is the longest wait ParseRetryAfter reports: one year.
const maxRetryAfter = 365 * 24 * time.Hour

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header []string // nil means no Retry-After header
		want   time.Duration
		ok     bool
	}{
		{"absent", nil, 0, false},
		{"empty", []string{""}, 0, false},
		{"blank", []string{"   "}, 0, false},
		{"zero seconds", []string{"0"}, 0, true},
		{"seconds", []string{"120"}, 2 * time.Minute, true},
		{"seconds with spaces", []string{" 3 "}, 3 * time.Second, true},
		{"negative seconds", []string{"-1"}, 0, false},
		{"signed seconds", []string{"+5"}, 0, false},
		{"fractional seconds", []string{"1.5"}, 0, false},
		{"seconds capped at a year", []string{"99999999"}, maxRetryAfter, true},
		{"seconds beyond int64 capped at a year", []string{"99999999999999999999"}, maxRetryAfter, true},
		{"IMF-fixdate", []string{"Thu, 01 Jan 2026 00:00:05 GMT"}, 5 * time.Second, true},
		{"RFC 850 date", []string{"Thursday, 01-Jan-26 00:01:00 GMT"}, time.Minute, true},
		{"asctime date", []string{"Thu Jan  1 01:00:00 2026"}, time.Hour, true},
		{"past date", []string{"Wed, 31 Dec 2025 23:59:00 GMT"}, 0, true},
		{"date capped at a year", []string{"Fri, 31 Dec 9999 23:59:59 GMT"}, maxRetryAfter, true},
		{"garbage", []string{"soon"}, 0, false},
		{"date with a bad zone", []string{"Thu, 01 Jan 2026 00:00:05 PST"}, 0, false},
		{"first of several headers", []string{"7", "9"}, 7 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tt.header != nil {
				resp.Header["Retry-After"] = tt.header
			}
			got, ok := retry.ParseRetryAfter(resp, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseRetryAfter(%q) = %s, %v, want %s, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseRetryAfterNilResponse(t *testing.T) {
	if d, ok := retry.ParseRetryAfter(nil, time.Now()); d != 0 || ok {
		t.Fatalf("ParseRetryAfter(nil) = %s, %v, want 0, false", d, ok)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, s := range []string{
		"0",
		"120",
		"-1",
		"31536001",
		"99999999999999999999",
		"Thu, 01 Jan 2026 00:00:05 GMT",
		"Thursday, 01-Jan-26 00:01:00 GMT",
		"Thu Jan  1 01:00:00 2026",
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"soon",
		"",
	} {
		f.Add(s, now)
	}
	f.Fuzz(func(t *testing.T, header string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		resp := &http.Response{Header: http.Header{"Retry-After": {header}}}
		d, ok := retry.ParseRetryAfter(resp, now)
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s, false: want 0 when not ok", header, d)
		}
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q, %s) = %s, outside [0, %s]", header, now, d, maxRetryAfter)
		}
		if d2, ok2 := retry.ParseRetryAfter(resp, now); d2 != d || ok2 != ok {
			t.Fatalf("ParseRetryAfter(%q, %s) = %s, %v then %s, %v", header, now, d, ok, d2, ok2)
		}
	})
}
