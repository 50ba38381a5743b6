package retry

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter bounds what ParseRetryAfter reports. Anything longer means "not
// soon" just as well, and a bound keeps date arithmetic from saturating.
const maxRetryAfter = 365 * 24 * time.Hour

// ParseRetryAfter parses resp's Retry-After header, in delta-seconds (digits
// only) or as an HTTP date, relative to now. It reports false when the
// header is absent or malformed; a date in the past yields zero. Waits
// longer than a year, including a number of seconds too large to
// represent, yield one year: the server asked for a long wait, and a cap
// such as Policy.MaxRetryAfter must see it as one.
func ParseRetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}
