package idle

import (
	"strconv"
	"strings"
	"time"
)

// maxAdvertised bounds advertised values; anything larger is junk.
const maxAdvertised = 24 * time.Hour

// KeepAlive is what a Keep-Alive response header advertises. Zero fields
// were absent or invalid.
type KeepAlive struct {
	Timeout     time.Duration
	MaxRequests int
}

// ParseKeepAlive parses the values of Keep-Alive headers ("timeout=5,
// max=100"). Parameters are matched in any case, may be quoted and
// surrounded by spaces; junk, negative and absurd values are ignored. When
// a parameter appears more than once, the smallest valid value wins.
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
			if err != nil || n <= 0 {
				continue
			}
			switch {
			case strings.EqualFold(name, "timeout"):
				if d := time.Duration(n) * time.Second; n <= int(maxAdvertised/time.Second) && (ka.Timeout == 0 || d < ka.Timeout) {
					ka.Timeout = d
				}
			case strings.EqualFold(name, "max"):
				if n <= 1<<30 && (ka.MaxRequests == 0 || n < ka.MaxRequests) {
					ka.MaxRequests = n
				}
			}
		}
	}
	return ka
}
