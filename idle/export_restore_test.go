package idle_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// roundTrip encodes entries to JSON and back, as a file between two
// processes would.
func roundTrip(t *testing.T, entries []idle.Learned) []idle.Learned {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	var out []idle.Learned
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return out
}

func TestExportRestoreKeepsLimitsAndExpiry(t *testing.T) {
	const closed, reused, stale = "http://closed:80", "http://reused:80", "https://stale:443"
	now := time.Unix(5000, 0)
	a := fakeClock(&now)
	a.ObserveClosedIdle(closed, 2*time.Second)
	a.ObserveReuse(reused, time.Second)
	a.ObserveStale(stale, 3*time.Second, 0)
	a.ObserveKeepAlive(reused, []string{"timeout=5"})
	exported := roundTrip(t, a.Export())
	if len(exported) != 3 {
		t.Fatalf("exported %d backends, want 3: %+v", len(exported), exported)
	}

	now = now.Add(10 * time.Second) // the restart
	b := fakeClock(&now)
	if err := b.Restore(exported); err != nil {
		t.Fatal(err)
	}
	if got := b.Backends(); got != 3 {
		t.Fatalf("%d backends restored, want 3", got)
	}
	for _, k := range []string{closed, stale} {
		if la, lb := a.Limit(k), b.Limit(k); la != lb {
			t.Errorf("%s: restored limit %+v, exported %+v", k, lb, la)
		}
	}
	// The advertisement is not restored: the first response says it again.
	if l := b.Limit(reused); l.Source != idle.SourceNone {
		t.Errorf("reused: %+v, want none until the backend advertises", l)
	}
	again := b.Export()
	for i := range again {
		if exp, got := exported[i].Evidence, again[i].Evidence; len(exp) != len(got) || (len(exp) > 0 && !exp[0].Expires.Equal(got[0].Expires)) {
			t.Errorf("%s: evidence %+v after restore, exported %+v", again[i].Key, got, exp)
		}
	}

	// The unconfirmed stale failure keeps its minute: gone after it...
	now = now.Add(idle.ConfirmWindow)
	if l := b.Limit(stale); l.Source != idle.SourceNone {
		t.Errorf("stale: %+v a minute after it was seen, want it expired", l)
	}
	// ...and the close its TTL.
	now = now.Add(idle.DefaultTTL - idle.ConfirmWindow)
	if l := b.Limit(closed); l.Source != idle.SourceNone {
		t.Errorf("closed: %+v after its TTL, want it expired", l)
	}
}

func TestRestoredStaleNeedsConfirmation(t *testing.T) {
	const key = "http://b:80"
	now := time.Unix(5000, 0)
	a := fakeClock(&now)
	a.ObserveReuse(key, 2*time.Second)            // reuses after 2 s work...
	a.ObserveStale(key, 2100*time.Millisecond, 0) // ...so one failure just past them only caps at them
	before := a.Limit(key)
	exported := roundTrip(t, a.Export())

	b := fakeClock(&now)
	if err := b.Restore(exported); err != nil {
		t.Fatal(err)
	}
	if l := b.Limit(key); l != before {
		t.Fatalf("restored %+v, exported %+v", l, before)
	}
	// A second failure confirms the restored one, as it would the fresh one.
	now = now.Add(time.Second)
	a.ObserveStale(key, 2200*time.Millisecond, 0)
	b.ObserveStale(key, 2200*time.Millisecond, 0)
	if la, lb := a.Limit(key), b.Limit(key); la != lb || lb.Timeout != ratio(2100*time.Millisecond) {
		t.Fatalf("confirmed: restored tracker %+v, original %+v, want %v", lb, la, ratio(2100*time.Millisecond))
	}
}

func TestRestoreRejects(t *testing.T) {
	now := time.Unix(5000, 0)
	ev := func(k idle.EvidenceKind, d time.Duration, seen, exp time.Time) idle.Evidence {
		return idle.Evidence{Kind: k, Idle: d, Seen: seen, Expires: exp}
	}
	good := idle.Learned{Key: "http://good:80", Limit: 1600 * time.Millisecond, Source: idle.SourceObserved,
		Evidence: []idle.Evidence{ev(idle.EvidenceClosed, 2*time.Second, now, now.Add(time.Minute))}}
	with := func(f func(*idle.Learned)) idle.Learned {
		l := good
		l.Key = "http://bad:80"
		l.Evidence = append([]idle.Evidence(nil), good.Evidence...)
		f(&l)
		return l
	}
	for _, tc := range []struct {
		name, want string
		bad        idle.Learned
	}{
		{"empty key", "not a backend key", with(func(l *idle.Learned) { l.Key = "" })},
		{"path", "not a backend key", with(func(l *idle.Learned) { l.Key = "http://bad:80/x" })},
		{"no port", "not a backend key", with(func(l *idle.Learned) { l.Key = "http://bad" })},
		{"userinfo", "not a backend key", with(func(l *idle.Learned) { l.Key = "http://u:p@bad:80" })},
		{"upper case", "not a backend key", with(func(l *idle.Learned) { l.Key = "http://BAD:80" })},
		{"scheme", "neither http nor https", with(func(l *idle.Learned) { l.Key = "ftp://bad:21" })},
		{"source", "unknown source", with(func(l *idle.Learned) { l.Source = 9 })},
		{"negative limit", "negative", with(func(l *idle.Learned) { l.Limit = -1 })},
		{"limit over ceiling", "over the ceiling", with(func(l *idle.Learned) { l.Limit = idle.DefaultCeiling + 1 })},
		{"kind", "unknown kind", with(func(l *idle.Learned) { l.Evidence[0].Kind = "rumour" })},
		{"twice", "a second closed", with(func(l *idle.Learned) { l.Evidence = append(l.Evidence, l.Evidence[0]) })},
		{"zero", "not positive", with(func(l *idle.Learned) { l.Evidence[0].Idle = 0 })},
		{"negative", "not positive", with(func(l *idle.Learned) { l.Evidence[0].Idle = -time.Second })},
		{"over ceiling", "over the ceiling", with(func(l *idle.Learned) { l.Evidence[0].Idle = idle.DefaultCeiling + 1 })},
		{"expired", "expired", with(func(l *idle.Learned) { l.Evidence[0].Expires = now })},
		{"no seen", "not before it expires", with(func(l *idle.Learned) { l.Evidence[0].Seen = time.Time{} })},
		{"seen after", "not before it expires", with(func(l *idle.Learned) { l.Evidence[0].Seen = now.Add(time.Hour) })},
		{"duplicate key", "given twice", with(func(l *idle.Learned) { l.Key = good.Key })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := fakeClock(&now)
			err := tr.Restore([]idle.Learned{good, tc.bad})
			if !errors.Is(err, idle.ErrInvalidLearned) || !strings.Contains(err.Error(), "entry 1") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want entry 1 rejected for %q", err, tc.want)
			}
			if n := tr.Backends(); n != 0 {
				t.Fatalf("%d backends applied from a rejected export", n)
			}
		})
	}
}

func TestRestoreRejectsMalformedJSON(t *testing.T) {
	for _, in := range []string{
		`[{"key":"http://a:80","source":"rumour"}]`,
		`[{"key":"http://a:80","evidence":[{"kind":"closed","idle":"2s"}]}]`,
	} {
		var l []idle.Learned
		if err := json.Unmarshal([]byte(in), &l); err == nil {
			t.Errorf("%s decoded", in)
		}
	}
}

func TestRestoreCountsTowardMaxBackends(t *testing.T) {
	now := time.Unix(5000, 0)
	a := fakeClock(&now)
	for _, k := range []string{"http://a:80", "http://b:80", "http://c:80"} {
		a.ObserveClosedIdle(k, time.Second)
	}
	exported := a.Export()

	small := fakeClock(&now)
	small.MaxBackends = 2
	if err := small.Restore(exported); !errors.Is(err, idle.ErrInvalidLearned) || small.Backends() != 0 {
		t.Fatalf("3 entries into 2 backends: %v, %d applied", err, small.Backends())
	}
	if err := small.Restore(exported[:2]); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	small.Limit("http://new:80") // a new backend evicts the least recently used
	if n := small.Backends(); n > 2 {
		t.Fatalf("%d backends remembered, MaxBackends 2", n)
	}
}

func TestRestoreKeepsWhatTheTrackerKnows(t *testing.T) {
	const key = "http://a:80"
	now := time.Unix(5000, 0)
	a := fakeClock(&now)
	a.ObserveClosedIdle(key, time.Second)
	b := fakeClock(&now)
	b.ObserveClosedIdle(key, 3*time.Second)
	if err := b.Restore(a.Export()); err != nil {
		t.Fatal(err)
	}
	if l := b.Limit(key); l.Timeout != ratio(3*time.Second) {
		t.Fatalf("limit %v, want the tracker's own %v", l.Timeout, ratio(3*time.Second))
	}
}
