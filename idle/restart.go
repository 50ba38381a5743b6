package idle

import "time"

// restartWindow is how close together two closes of idle connections must
// be seen for their idle times to be compared. An idle timeout closes
// connections together only if they went idle together; a restart or a
// crash closes every connection at once, whatever its idle time. Closes
// seen within restartWindow of each other whose idle times differ by more
// than twice restartWindow are therefore a restart, not a timeout, and
// teach nothing.
const restartWindow = 50 * time.Millisecond

// closes remembers the last close of an idle connection to a backend, to
// recognise a restart and undo what its first closes taught.
type closes struct {
	at    time.Time     // when the last close was seen
	idle  time.Duration // how long that connection had been idle
	run   time.Time     // when this run of closes began (closes within restartWindow of each other)
	until time.Time     // a restart was recognised: closes before this are ignored
	ended time.Time     // when a connection was last closed as its response ended (see endedClose)
}

// restart reports whether a close seen at now after idle is part of a
// restart. When it is the close that reveals the restart, undoSince is
// when the restart's run of closes began: what they taught is undone.
func (c *closes) restart(now time.Time, idle time.Duration) (isRestart bool, undoSince time.Time) {
	if now.Before(c.until) {
		c.until = now.Add(restartWindow)
		return true, time.Time{}
	}
	if !c.at.IsZero() && now.Sub(c.at) < restartWindow && absDiff(idle, c.idle) > 2*restartWindow {
		c.until = now.Add(restartWindow)
		return true, c.run
	}
	if !c.ended.IsZero() && now.Sub(c.ended) < restartWindow && idle > 2*restartWindow {
		// Closed with one that had just carried a response.
		c.until = now.Add(restartWindow)
		return true, time.Time{}
	}
	return false, time.Time{}
}

// endedClose records a connection closed as its response ended, at now,
// and reports whether it reveals a restart: an idle connection closed
// with it, within restartWindow before. It is not a close of its own
// (it teaches nothing, starts no run and holds no restart open), so
// that a backend that closes connections after their responses without
// saying so never hides the idle closes between them: only one within
// restartWindow of it is taken for a restart.
func (c *closes) endedClose(now time.Time) (isRestart bool, undoSince time.Time) {
	c.ended = now
	if !c.at.IsZero() && now.Sub(c.at) < restartWindow && c.idle > 2*restartWindow && !now.Before(c.until) {
		c.until = now.Add(restartWindow)
		return true, c.run
	}
	return false, time.Time{}
}

// seen records a close at now after idle that counts as a timeout.
func (c *closes) seen(now time.Time, idle time.Duration) {
	if c.at.IsZero() || now.Sub(c.at) >= restartWindow {
		c.run = now
	}
	c.at, c.idle = now, idle
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}
