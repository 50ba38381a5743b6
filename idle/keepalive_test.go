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
		{"none", nil, KeepAlive{}},
		{"timeout", []string{"timeout=5"}, KeepAlive{Timeout: 5 * time.Second}},
		{"both", []string{"timeout=5, max=100"}, KeepAlive{5 * time.Second, 100}},
		{"case and spaces", []string{" Timeout = 2 ,MAX=3"}, KeepAlive{2 * time.Second, 3}},
		{"quoted", []string{`timeout="7"`}, KeepAlive{Timeout: 7 * time.Second}},
		{"several headers smallest wins", []string{"timeout=9", "timeout=4"}, KeepAlive{Timeout: 4 * time.Second}},
		{"junk", []string{"timeout=abc, max=, =, ,,foo"}, KeepAlive{}},
		{"negative and zero", []string{"timeout=-1, max=0"}, KeepAlive{}},
		{"absurd", []string{"timeout=99999999999999999999, max=9999999999"}, KeepAlive{}},
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
		if ka.Timeout < 0 || ka.Timeout > maxAdvertised || ka.MaxRequests < 0 {
			t.Fatalf("ParseKeepAlive(%q) = %+v out of range", s, ka)
		}
	})
}
