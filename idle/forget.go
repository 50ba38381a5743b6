package idle

import (
	"cmp"
	"slices"
	"time"
)

// insertLocked remembers a new backend key, seen at now, first forgetting
// backends to stay within MaxBackends, and those dead for TTL once a TTL.
func (t *Tracker) insertLocked(key string, now time.Time) *backend {
	if t.backends == nil {
		t.backends = map[string]*backend{}
	}
	if len(t.backends) >= t.maxBackends() || !now.Before(t.swept.Add(t.ttl())) {
		t.forgetLocked(now)
	}
	if len(t.backends) >= t.maxBackends() {
		t.evictLocked()
	}
	b := &backend{}
	b.used.Store(now.UnixNano())
	t.backends[key] = b
	return b
}

// forgetLocked forgets the backends that have seen no request for TTL:
// their observations have expired too.
func (t *Tracker) forgetLocked(now time.Time) {
	t.swept = now
	dead := now.Add(-t.ttl()).UnixNano()
	for k, b := range t.backends {
		if b.used.Load() <= dead {
			delete(t.backends, k)
		}
	}
}

// evictLocked forgets the least recently used backends: an eighth of
// MaxBackends at once, so that the next inserts need not sort again.
func (t *Tracker) evictLocked() {
	type use struct {
		key  string
		used int64
	}
	uses := make([]use, 0, len(t.backends))
	for k, b := range t.backends {
		uses = append(uses, use{k, b.used.Load()})
	}
	slices.SortFunc(uses, func(a, b use) int { return cmp.Compare(a.used, b.used) })
	keep := t.maxBackends() - max(t.maxBackends()/8, 1)
	for _, u := range uses[:max(len(uses)-keep, 0)] {
		delete(t.backends, u.key)
	}
}

func (t *Tracker) maxBackends() int {
	if t.MaxBackends > 0 {
		return t.MaxBackends
	}
	return DefaultMaxBackends
}

// Range calls f with the effective limit of every backend that has seen a
// request within TTL, for telemetry that reports them all; it forgets the
// others. Calling it does not count as a request. f may call the Tracker.
func (t *Tracker) Range(f func(key string, l Limit)) {
	t.mu.Lock()
	t.forgetLocked(t.clock())
	keys := make([]string, 0, len(t.backends))
	for k := range t.backends {
		keys = append(keys, k)
	}
	t.mu.Unlock()
	for _, k := range keys {
		f(k, t.limit(k, false))
	}
}
