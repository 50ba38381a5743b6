package retry

import "time"

// SetClock makes b read the time from now, so that tests step through the
// floor's windows without sleeping.
func SetClock(b *Budget, now func() time.Time) { b.now = now }
