package idle_test

import (
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// A mixed pool over plain HTTP: instance A closes at 5 s, the nine
// instances B at 9 s. The limit (4 s) retires connections to both, and
// each retired connection is watched for 2 x 4 s + 2 s = 10 s: A's shows
// 5 s, B's 9 s. Nine watches in ten are B's; eight in a row (43 % of the
// time) evict A's close from the eight-entry ring though it is a minute
// old, and the eight agree: the limit rises to 9 s less the margin,
// 8.8 s, while A still closes at 5 s.
func TestHostileRingEvictsTheSmallestClose(t *testing.T) {
	const key = "http://lb:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	tr.ObserveWatchedClose(key, 5*s) // A
	now = now.Add(10 * s)
	tr.ObserveWatchedClose(key, 5*s) // A again: confirmed
	for range 8 {
		now = now.Add(7 * s)
		tr.ObserveWatchedClose(key, 9*s) // B
	}
	if l := tr.Limit(key); l.Timeout >= 5*s {
		t.Fatalf("limit %v from %v, a minute after A's closes at 5 s", l.Timeout, l.Source)
	}
}

// Export keeps one close, the smallest. When that one is doubtful (a
// restart's lone close against closes at 60 s), a Tracker restored from
// the export has it alone, for its minute, and then nothing: no limit at
// all, where the exporting Tracker keeps the closes at 60 s (a limit
// under 60 s) for TTL. The process that restored it reuses connections
// past 60 s until it has paid a close (a race) to learn them again.
func TestHostileExportDropsTheClosesThatHold(t *testing.T) {
	const key = "http://go:80"
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	observeEach(&now, 10*s, tr.ObserveWatchedClose, key, times(3, 60*s)...)
	tr.ObserveClosedIdle(key, 200*ms) // a restart's lone close: doubtful, a minute
	saved := tr.Export()
	tr2 := fakeClock(&now)
	if err := tr2.Restore(saved); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	l1, l2 := tr.Limit(key), tr2.Limit(key)
	if l2.Source == idle.SourceNone || l2.Timeout > l1.Timeout {
		t.Fatalf("restored limit %v from %v; the exporting tracker's is %v from %v", l2.Timeout, l2.Source, l1.Timeout, l1.Source)
	}
}
