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
