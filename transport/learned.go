package transport

import "github.com/resilient-http/resilient/idle"

// Learned returns what the Transport has learned of each backend's idle
// limit (see [idle.Tracker.Export]): a plain value that encodes to JSON,
// for a process to save when it stops, so that the next one can start
// from it with [Transport.Restore].
func (t *Transport) Learned() []idle.Learned { return t.idle.Export() }

// Restore makes the Transport start from what an earlier one learned, as
// [Transport.Learned] returned it: a silent backend's limit is then known
// before the first request, which would otherwise learn it by failing. Call
// it after [New] and before the first request. The entries are untrusted:
// when one is malformed, stale or absurd, Restore returns an error that
// says which and why, and applies none (see [idle.Tracker.Restore], which
// also says how restored evidence counts).
func (t *Transport) Restore(learned []idle.Learned) error {
	defer t.limitVersion.Add(1) // connections ask for their limits again
	return t.idle.Restore(learned)
}
