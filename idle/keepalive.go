package idle

import (
	"strconv"
	"strings"
	"time"
)

// maxAdvertised bounds advertised values; anything larger is junk.
const maxAdvertised = 24 * time.Hour

// KeepAlive is what a Keep-Alive response header advertises.
type KeepAlive struct {
	// Timeout is the timeout parameter: whole seconds, rounded down from
	// the backend's setting, so the setting lies in [Timeout,
	// Timeout+1s). Zero when absent or invalid, and for timeout=0, which
	// HasTimeout tells apart.
	Timeout time.Duration
	// HasTimeout reports a valid timeout parameter. With a zero Timeout it
	// means timeout=0: Apache httpd and Node.js send that for a setting
	// under one second.
	HasTimeout bool
	// MaxRequests is the max parameter, the requests left on the
	// connection that carried the response; zero when absent or invalid.
	MaxRequests int
}

// ParseKeepAlive parses the values of Keep-Alive headers ("timeout=5,
// max=100"). Parameters are matched in any case, may be quoted and
// surrounded by spaces; junk, negative and absurd values are ignored, and
// so is max=0. When a parameter appears more than once, the smallest valid
// value wins.
func ParseKeepAlive(values []string) KeepAlive {
	var ka KeepAlive
	for _, v := range values {
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
			name, val, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			name = strings.TrimSpace(name)
			val = strings.Trim(strings.TrimSpace(val), `"`)
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				continue
			}
			switch {
			case strings.EqualFold(name, "timeout"):
				if d := time.Duration(n) * time.Second; n <= int(maxAdvertised/time.Second) && (!ka.HasTimeout || d < ka.Timeout) {
					ka.Timeout, ka.HasTimeout = d, true
				}
			case strings.EqualFold(name, "max"):
				if n > 0 && n <= 1<<30 && (ka.MaxRequests == 0 || n < ka.MaxRequests) {
					ka.MaxRequests = n
				}
			}
		}
	}
	return ka
}

// expireMax forgets the advertised max TTL after the backend's last
// answer, and returns when it will otherwise; zero: nothing to forget. A
// max describes the connection that carried it, and a backend that is no
// longer asked (a shared Tracker fed by another client, requests through
// a proxy) may have stopped sending it without anyone seeing the answer
// that says so.
func (b *backend) expireMax(now time.Time, ttl time.Duration) time.Time {
	if b.advertised.MaxRequests == 0 {
		return time.Time{}
	}
	if exp := time.Unix(0, b.answered.Load()).Add(ttl); now.Before(exp) {
		return exp
	}
	b.advertised.MaxRequests = 0
	b.rawHeader = "" // so that the same header, seen again, teaches it again
	return time.Time{}
}
