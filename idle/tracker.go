package idle

import (
	"sync"
	"time"
)

// Defaults of a Tracker.
const (
	DefaultRatio   = 0.8
	DefaultFloor   = 50 * time.Millisecond
	DefaultCeiling = 10 * time.Minute
	DefaultTTL     = 10 * time.Minute
)

// Limit is the effective idle limit of a backend. A zero Timeout means no
// limit is known.
type Limit struct {
	Timeout time.Duration
	// MaxRequests is the max=N the backend last advertised in Keep-Alive,
	// zero if none. It is information only: no connection is closed to
	// enforce it, since net/http may be handing the connection to a
	// waiting request at that moment, and servers that count requests
	// send Connection: close with the last one, which net/http honours.
	MaxRequests int
	Source      Source
}

// Tracker keeps the idle limit of each backend, keyed by
// "scheme://host:port" (see Key). Its methods are safe for concurrent use;
// Limit and ObserveKeepAlive do not allocate once a backend is known and
// its header has not changed.
//
// Create it with NewTracker; settings must be made before first use.
type Tracker struct {
	// Ratio scales the smallest known timeout, so the client closes first.
	Ratio float64
	// Floor and Ceiling clamp the effective limit.
	Floor, Ceiling time.Duration
	// TTL is how long an observation lowers a limit.
	TTL time.Duration
	// Configured applies to every backend without a per-host setting.
	Configured time.Duration

	now func() time.Time

	mu       sync.RWMutex
	backends map[string]*backend
}

type backend struct {
	configured  time.Duration
	advertised  KeepAlive
	rawHeader   string
	closed      observation // the backend closed an idle connection
	stale       observation // a reused connection was found closed
	closes      closes
	effective   Limit
	effectiveAt time.Time // when the effective limit stops being valid; zero: never
}

// NewTracker returns a Tracker with the default ratio, floor, ceiling and TTL.
func NewTracker() *Tracker {
	return &Tracker{Ratio: DefaultRatio, Floor: DefaultFloor, Ceiling: DefaultCeiling, TTL: DefaultTTL, now: time.Now, backends: map[string]*backend{}}
}

// SetClock replaces the clock used to expire observations (for tests).
func (t *Tracker) SetClock(now func() time.Time) { t.now = now }

// Configure sets the configured idle timeout of one backend.
func (t *Tracker) Configure(key string, d time.Duration) {
	t.update(key, func(b *backend) { b.configured = d })
}

// Limit returns the effective idle limit of the backend key.
func (t *Tracker) Limit(key string) Limit {
	t.mu.RLock()
	b := t.backends[key]
	var l Limit
	stale := false
	if b != nil {
		l = b.effective
		stale = !b.effectiveAt.IsZero() && !t.now().Before(b.effectiveAt)
	}
	t.mu.RUnlock()
	if b == nil {
		return t.compute(&backend{})
	}
	if stale {
		t.update(key, func(*backend) {})
		return t.Limit(key)
	}
	return l
}

// ObserveKeepAlive learns from the Keep-Alive header values of a response.
// It only parses when the header differs from the last one seen.
func (t *Tracker) ObserveKeepAlive(key string, values []string) {
	if len(values) == 0 {
		return
	}
	t.mu.RLock()
	b := t.backends[key]
	same := b != nil && len(values) == 1 && b.rawHeader == values[0]
	t.mu.RUnlock()
	if same {
		return
	}
	ka := ParseKeepAlive(values)
	t.update(key, func(b *backend) {
		b.advertised = ka
		if len(values) == 1 {
			b.rawHeader = values[0]
		}
	})
}

// ObserveClosedIdle records that the backend closed a connection that had
// been idle for idleFor, seen as it happened: the backend's timeout is at
// most that. Closes that reveal a restart (see RestartWindow) are ignored,
// and undo what the same restart's first closes taught.
func (t *Tracker) ObserveClosedIdle(key string, idleFor time.Duration) {
	if idleFor <= 0 {
		return
	}
	t.update(key, func(b *backend) {
		now := t.now()
		if restart, restore := b.closes.restart(now, idleFor); restart {
			if restore != nil {
				b.closed = *restore
			}
			return
		}
		b.closes.seen(now, idleFor, b.closed)
		b.closed.lower(idleFor, now, t.TTL)
	})
}

// ObserveStale records that a reused connection to the backend failed as
// one the backend had closed, after it had been idle for idleFor: the
// backend's timeout is at most that. When the backend closed it is not
// known, so no restart can be recognised.
func (t *Tracker) ObserveStale(key string, idleFor time.Duration) {
	if idleFor <= 0 {
		return
	}
	t.update(key, func(b *backend) { b.stale.lower(idleFor, t.now(), t.TTL) })
}

func (t *Tracker) update(key string, f func(*backend)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.backends[key]
	if b == nil {
		b = &backend{}
		t.backends[key] = b
	}
	f(b)
	now := t.now()
	b.effectiveAt = time.Time{}
	for _, o := range []*observation{&b.closed, &b.stale} {
		if exp := o.expire(now, t.TTL); !exp.IsZero() && (b.effectiveAt.IsZero() || exp.Before(b.effectiveAt)) {
			b.effectiveAt = exp
		}
	}
	b.effective = t.compute(b)
}

func (t *Tracker) compute(b *backend) Limit {
	l := Limit{MaxRequests: b.advertised.MaxRequests}
	pick := func(d time.Duration, s Source) {
		if d > 0 && (l.Timeout == 0 || d < l.Timeout) {
			l.Timeout, l.Source = d, s
		}
	}
	configured := b.configured
	if configured == 0 {
		configured = t.Configured
	}
	pick(configured, SourceConfigured)
	pick(b.advertised.Timeout, SourceAdvertised)
	pick(b.closed.d, SourceObserved)
	pick(b.stale.d, SourceObserved)
	if l.Timeout == 0 {
		return l
	}
	l.Timeout = time.Duration(float64(l.Timeout) * t.Ratio)
	l.Timeout = max(l.Timeout, t.Floor)
	if t.Ceiling > 0 {
		l.Timeout = min(l.Timeout, t.Ceiling)
	}
	return l
}

// Range calls f with the effective limit of every backend the Tracker
// knows, for telemetry that reports them all. f may call the Tracker.
func (t *Tracker) Range(f func(key string, l Limit)) {
	t.mu.RLock()
	keys := make([]string, 0, len(t.backends))
	for k := range t.backends {
		keys = append(keys, k)
	}
	t.mu.RUnlock()
	for _, k := range keys {
		f(k, t.Limit(k))
	}
}
