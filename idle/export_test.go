package idle

import "time"

// SetClock replaces the clock of t; call it before first use.
func (t *Tracker) SetClock(now func() time.Time) { t.now = now }

// Backends returns how many backends t remembers.
func (t *Tracker) Backends() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.backends)
}

// StaleAfterWrite and ConfirmWindow are the stale rule's constants.
const (
	StaleAfterWrite = staleAfterWrite
	ConfirmWindow   = confirmWindow
)

// CloseMargin is how far below a measured close the limit stays.
func CloseMargin(d time.Duration) time.Duration { return closeMargin(d) }
