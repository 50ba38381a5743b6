package idle

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Learned is what a Tracker learned of one backend, as [Tracker.Export]
// reports it and [Tracker.Restore] takes it back: a plain value that
// encodes to JSON (durations in nanoseconds, as encoding/json writes a
// time.Duration), so that a process can save it when it stops and the next
// one start from it, instead of paying a failed request per silent
// backend to learn its limit again.
type Learned struct {
	// Key names the backend, as [Key] does: "scheme://host:port".
	Key string `json:"key"`
	// Limit and Source are the effective limit when exported and where it
	// came from; MaxRequests is the advertised max, zero if none. They
	// are information: Restore checks them, then computes the limit again
	// from the evidence and the restoring Tracker's settings.
	Limit       time.Duration `json:"limit"`
	Source      Source        `json:"source"`
	MaxRequests int           `json:"max_requests,omitempty"`
	// Expires is when the effective limit changes next as evidence
	// expires; zero when none will.
	Expires time.Time `json:"expires,omitzero"`
	// Advertised is the backend's last Keep-Alive advertisement, nil when
	// none is known. Restore does not restore it: the first response to a
	// new process says it again, on a connection that is new anyway.
	Advertised *KeepAlive `json:"advertised,omitempty"`
	// Evidence is what the backend was seen to do, at most one of each
	// kind.
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence is one bound on a backend's idle timeout that a Tracker
// observed, with the time it expires.
type Evidence struct {
	Kind EvidenceKind `json:"kind"`
	// Idle is the idle time the bound is about.
	Idle time.Duration `json:"idle"`
	// Seen is when the bound was last lowered, raised or confirmed.
	Seen time.Time `json:"seen"`
	// Expires is when it stops counting: Seen plus the Tracker's TTL, or
	// plus a minute for an unconfirmed stale failure.
	Expires time.Time `json:"expires"`
}

// EvidenceKind says what a piece of [Evidence] is.
type EvidenceKind string

// Kinds of evidence (see the package doc).
const (
	// EvidenceClosed: the backend closed a connection idle for Idle, an
	// upper bound ([Tracker.ObserveClosedIdle]).
	EvidenceClosed EvidenceKind = "closed"
	// EvidenceReused: a connection idle for Idle was reused, a lower
	// bound ([Tracker.ObserveReuse]).
	EvidenceReused EvidenceKind = "reused"
	// EvidenceStale: one stale-shaped failure after Idle, not yet
	// confirmed ([Tracker.ObserveStale]).
	EvidenceStale EvidenceKind = "stale"
	// EvidenceStaleConfirmed: two stale-shaped failures within a minute,
	// the smaller idle time an upper bound.
	EvidenceStaleConfirmed EvidenceKind = "stale-confirmed"
)

// ErrInvalidLearned is wrapped by the errors [Tracker.Restore] returns.
var ErrInvalidLearned = errors.New("idle: invalid learned entry")

// MarshalText returns the source's name, so that JSON shows it.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a source's name; an unknown name is an error.
func (s *Source) UnmarshalText(b []byte) error {
	for c := SourceNone; c <= SourceObserved; c++ {
		if string(b) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("idle: unknown source %q", b)
}

// Export returns what t has learned of every backend that has seen a
// request within TTL and holds evidence or an advertisement, sorted by
// key. It does not count as a request; it forgets what expired.
func (t *Tracker) Export() []Learned {
	now := t.clock()
	bound := t.evidenceBound()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetLocked(now)
	out := make([]Learned, 0, len(t.backends))
	for key, b := range t.backends {
		t.refreshLocked(key, b, now)
		l := Learned{
			Key: key, Limit: b.effective.Timeout, Source: b.effective.Source,
			MaxRequests: b.effective.MaxRequests, Expires: b.effectiveAt,
		}
		if b.advertised != (KeepAlive{}) {
			ka := b.advertised
			l.Advertised = &ka
		}
		ttl := t.ttl()
		add := func(k EvidenceKind, o observation, exp time.Time) {
			if o.d <= 0 {
				return
			}
			d := o.d
			if d > bound {
				if k != EvidenceReused {
					// An upper bound past the ceiling changes no limit.
					return
				}
				// A lower bound stays true when lowered.
				d = bound
			}
			l.Evidence = append(l.Evidence, Evidence{Kind: k, Idle: d, Seen: o.at, Expires: exp})
		}
		if i := b.measures.lowest(); i >= 0 {
			lo := b.measures.m[i]
			add(EvidenceClosed, observation(lo), lo.at.Add(ttl))
		}
		add(EvidenceReused, b.reuse, b.reuse.at.Add(ttl))
		add(EvidenceStale, b.stale.first, b.stale.first.at.Add(confirmWindow))
		add(EvidenceStaleConfirmed, b.stale.confirmed, b.stale.confirmed.at.Add(ttl))
		if len(l.Evidence) > 0 || l.Advertised != nil {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b Learned) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Restore makes t start from what another Tracker exported. The entries
// are untrusted input: one that is malformed (a key that is not what [Key]
// returns, an unknown source or kind of evidence, a kind given twice, a
// key given twice), stale (evidence that has expired) or absurd (a zero,
// negative or over-ceiling duration, evidence seen after it expires) makes
// Restore return an error, wrapping [ErrInvalidLearned], that names the
// entry and why, and apply nothing. So do more entries than MaxBackends.
//
// Restored evidence is evidence like any other: it keeps its kind and its
// expiry (brought forward to the Tracker's TTL, or the minute of an
// unconfirmed stale failure, when it lies further ahead), so an
// unconfirmed stale failure still needs a second to be confirmed; and
// restored backends count toward MaxBackends. Of a backend t already
// knows, only the kinds of evidence t lacks are restored: its own
// observations are newer.
func (t *Tracker) Restore(entries []Learned) error {
	now := t.clock()
	if n := t.maxBackends(); len(entries) > n {
		return fmt.Errorf("%w: %d entries, more than the %d backends the tracker remembers", ErrInvalidLearned, len(entries), n)
	}
	restored := make([]backend, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, l := range entries {
		if err := t.check(l, now, &restored[i]); err != nil {
			return fmt.Errorf("%w %d (key %q): %w", ErrInvalidLearned, i, l.Key, err)
		}
		if seen[l.Key] {
			return fmt.Errorf("%w %d (key %q): the key is given twice", ErrInvalidLearned, i, l.Key)
		}
		seen[l.Key] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range entries {
		b := t.backends[l.Key]
		if b == nil {
			b = t.insertLocked(l.Key, now)
		}
		r := &restored[i]
		if b.measures.n == 0 && r.measures.n > 0 {
			b.measures.add(r.measures.m[0].d, r.measures.m[0].at, t.ttl())
		}
		for _, o := range [...]struct{ own, from *observation }{
			{&b.reuse, &r.reuse},
			{&b.stale.first, &r.stale.first}, {&b.stale.confirmed, &r.stale.confirmed},
		} {
			if o.own.d == 0 {
				*o.own = *o.from
			}
		}
		t.refreshLocked(l.Key, b, now)
	}
	return nil
}

// check validates one entry and fills b's observations from it.
func (t *Tracker) check(l Learned, now time.Time, b *backend) error {
	u, err := url.Parse(l.Key)
	switch {
	case err != nil || u.Host == "" || u.Port() == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || Key(u) != l.Key:
		return errors.New("the key is not a backend key (scheme://host:port)")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q is neither http nor https", u.Scheme)
	case l.Source > SourceObserved:
		return fmt.Errorf("unknown source %d", l.Source)
	case l.Limit < 0:
		return fmt.Errorf("limit %s is negative", l.Limit)
	case t.Ceiling > 0 && l.Limit > t.Ceiling:
		return fmt.Errorf("limit %s is over the ceiling %s", l.Limit, t.Ceiling)
	case l.MaxRequests < 0:
		return fmt.Errorf("max requests %d is negative", l.MaxRequests)
	}
	ttl := t.ttl()
	var closed observation // the close given, kept as a measured close once checked
	for j, e := range l.Evidence {
		var o *observation
		window := ttl
		switch e.Kind {
		case EvidenceClosed:
			o = &closed
		case EvidenceReused:
			o = &b.reuse
		case EvidenceStale:
			o, window = &b.stale.first, confirmWindow
		case EvidenceStaleConfirmed:
			o = &b.stale.confirmed
		default:
			return fmt.Errorf("evidence %d: unknown kind %q", j, e.Kind)
		}
		switch {
		case o.d != 0:
			return fmt.Errorf("evidence %d: a second %s", j, e.Kind)
		case e.Idle <= 0:
			return fmt.Errorf("evidence %d (%s): idle %s is not positive", j, e.Kind, e.Idle)
		case e.Idle > t.evidenceBound():
			return fmt.Errorf("evidence %d (%s): idle %s is over the ceiling %s", j, e.Kind, e.Idle, t.evidenceBound())
		case !now.Before(e.Expires):
			return fmt.Errorf("evidence %d (%s): expired at %s", j, e.Kind, e.Expires.Format(time.RFC3339Nano))
		case e.Seen.IsZero() || e.Seen.After(e.Expires):
			return fmt.Errorf("evidence %d (%s): seen at %s, not before it expires", j, e.Kind, e.Seen.Format(time.RFC3339Nano))
		}
		// The expiry is kept, within the Tracker's own window: an
		// observation is valid until at plus the window.
		exp := e.Expires
		if exp.After(now.Add(window)) {
			exp = now.Add(window)
		}
		*o = observation{d: e.Idle, at: exp.Add(-window)}
	}
	if closed.d > 0 {
		b.measures.add(closed.d, closed.at, ttl)
	}
	return nil
}

// evidenceBound is the longest idle time evidence may hold: the Ceiling,
// or the largest advertised timeout taken seriously when there is none.
func (t *Tracker) evidenceBound() time.Duration {
	if t.Ceiling > 0 {
		return t.Ceiling
	}
	return maxAdvertised
}
