package idle

import (
	"testing"
	"time"
)

func TestParseKeepAlive(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   KeepAlive
	}{
		{name: "none"},
		{name: "timeout", values: []string{"timeout=5"}, want: KeepAlive{Timeout: 5 * time.Second, HasTimeout: true}},
		{name: "both", values: []string{"timeout=5, max=100"}, want: KeepAlive{Timeout: 5 * time.Second, HasTimeout: true, MaxRequests: 100}},
		{name: "case and spaces", values: []string{" Timeout = 2 ,MAX=3"}, want: KeepAlive{Timeout: 2 * time.Second, HasTimeout: true, MaxRequests: 3}},
		{name: "quoted", values: []string{`timeout="7"`}, want: KeepAlive{Timeout: 7 * time.Second, HasTimeout: true}},
		{name: "several headers smallest wins", values: []string{"timeout=9", "timeout=4"}, want: KeepAlive{Timeout: 4 * time.Second, HasTimeout: true}},
		{name: "under a second", values: []string{"timeout=0"}, want: KeepAlive{HasTimeout: true}},
		{name: "under a second, apache", values: []string{"timeout=0, max=100"}, want: KeepAlive{HasTimeout: true, MaxRequests: 100}},
		{name: "under a second wins", values: []string{"timeout=3", "timeout=0"}, want: KeepAlive{HasTimeout: true}},
		{name: "junk", values: []string{"timeout=abc, max=, =, ,,foo"}},
		{name: "negative", values: []string{"timeout=-1, max=-2"}},
		{name: "max=0", values: []string{"max=0"}},
		{name: "absurd", values: []string{"timeout=99999999999999999999, max=9999999999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseKeepAlive(tt.values); got != tt.want {
				t.Errorf("ParseKeepAlive(%q) = %+v, want %+v", tt.values, got, tt.want)
			}
		})
	}
}

func FuzzParseKeepAlive(f *testing.F) {
	for _, s := range []string{"timeout=5, max=100", `timeout="1"`, "TIMEOUT=2,,max=-3", "=", "timeout=1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ka := ParseKeepAlive([]string{s})
		if ka.Timeout < 0 || ka.Timeout > maxAdvertised || ka.MaxRequests < 0 || (ka.Timeout > 0 && !ka.HasTimeout) {
			t.Fatalf("ParseKeepAlive(%q) = %+v out of range", s, ka)
		}
	})
}
