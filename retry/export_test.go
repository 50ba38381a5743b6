package retry

import "time"

// SetClock makes b read the time from now, so that tests step through the
// floor's windows without sleeping.
func SetClock(b *Budget, now func() time.Time) { b.now = now }

// Backends returns how many backends b remembers.
func Backends(b *Budget) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.backends)
}

// Owed returns the milli-retries b's reserves lack, as Full reads them.
func Owed(b *Budget) int64 { return b.owed.Load() }
