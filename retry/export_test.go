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

// SetMaxBackends sets how many backends b remembers, so that tests reach
// the cap with few.
func SetMaxBackends(b *Budget, n int) { b.maxBackends = n }

// Lacking returns what the reserves of the backends b remembers lack, in
// milli-retries: what owed must equal.
func Lacking(b *Budget) int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var sum int64
	for _, a := range b.backends {
		sum += b.max - a.reserve.Load()
	}
	return sum
}
