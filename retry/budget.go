package retry

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the backends a Budget remembers, the same as the idle
// package's (idle.DefaultTTL and idle.DefaultMaxBackends), so that a
// gateway meeting many hosts keeps the same number of each.
const (
	// DefaultForgetAfter is how long a backend that sees no request
	// (no Deposit, Allow or refund) keeps its allowance.
	DefaultForgetAfter = 10 * time.Minute
	// DefaultMaxBackends caps the backends a Budget remembers; beyond it
	// the least recently used are forgotten.
	DefaultMaxBackends = 4096
)

// dead marks the reserve of a forgotten allowance: a caller that looked
// it up just before it was forgotten neither adds to it nor takes from
// it, so that owed counts only the allowances the Budget holds.
const dead = -1 << 62

// Budget limits the retries sent to each backend, so that a backend that
// fails wholesale gets a bounded share of extra load, while a backend with
// little traffic gets every retry it needs. It is the budget of Finagle
// (a share of requests, plus a floor in retries per time window), not
// gRPC's token bucket, which runs dry at a few requests a second.
//
// A retry is allowed by either of two allowances:
//   - the floor: at most Floor retries in any window of Per (default 10
//     in any second), whatever the traffic; below that rate every retry
//     is allowed;
//   - the reserve: every request to the backend (its first attempt,
//     whatever its outcome) adds Ratio of a retry (default 0.2), up to as
//     many retries as the floor allows per window. The reserve of a
//     backend starts empty when its first retry is asked for.
//
// A retry takes from the floor first, then from the reserve. A backend
// that fails every request therefore sees, over a time D, at most
// (1 + Ratio) times the requests plus Floor retries for every window of
// Per that D touches: 48 requests failing within a second get at most
// 48 x 1.2 + 10 attempts.
//
// A request that succeeds after retries (its final response is not one
// Policy.Statuses retries) returns what its retries took to the reserve:
// a backend that answers, if only on the second attempt, is never starved.
// Decide does that; callers need not.
//
// Some retries cost nothing, as Policy.Decide documents: those after a
// stale pooled connection (Failure.Stale: a reused connection closed or
// reset before the response headers) and after a first "no such host".
// Neither says anything of the backend's health, and both are bounded by
// Policy.MaxAttempts. A stale connection therefore never ends a request
// with ErrBudgetExhausted.
//
// A backend is any name; Decide and the transport name backends as
// idle.Key does ("http://api:8080"). A Budget forgets a backend that has
// seen no request for DefaultForgetAfter (nor a retry for the floor's
// window), and keeps at most DefaultMaxBackends, forgetting the least
// recently used first, so that a client meeting ever new hosts holds
// bounded state. A forgotten backend starts again as a new one: an empty
// reserve and a whole floor; losing a reserve only lowers what the
// backend may be sent, and the floor of one pushed out by the cap while
// in use restarts early, which can let through at most Floor more retries
// to it. A Budget is safe for concurrent use. Its zero value is not
// usable; create it with NewBudget.
type Budget struct {
	ratio int64         // milli-retries added to the reserve per request
	max   int64         // the reserve's cap, in milli-retries
	floor int           // retries allowed in any window of per
	per   time.Duration // the floor's window
	now   func() time.Time

	// owed is how many milli-retries the reserves of all backends lack,
	// so that Full can answer without naming a backend.
	owed atomic.Int64

	forgetAfter time.Duration // see DefaultForgetAfter
	maxBackends int           // see DefaultMaxBackends

	mu       sync.RWMutex
	backends map[string]*allowance
	swept    int64 // UnixNano when idle backends were last forgotten; 0: never
}

// allowance is one backend's share of a Budget.
type allowance struct {
	reserve atomic.Int64 // milli-retries; dead once forgotten
	used    atomic.Int64 // UnixNano of the last Deposit, Allow or refund

	mu     sync.Mutex
	recent []int64 // UnixNano of the last floor retries, a ring
	next   int     // the oldest entry of recent, overwritten next
}

// NewBudget returns a Budget that allows each backend ratio retries per
// request, plus floor retries in any window of per. Non-positive values
// mean the defaults: 0.2, 10 and one second, as Finagle's. The floor keeps
// one timestamp per retry it allows in a window, so floor bounds memory
// too: a Budget holds 8 x floor bytes (plus about 100) per backend, for at
// most DefaultMaxBackends backends.
func NewBudget(ratio float64, floor int, per time.Duration) *Budget {
	if ratio <= 0 {
		ratio = 0.2
	}
	if floor <= 0 {
		floor = 10
	}
	if per <= 0 {
		per = time.Second
	}
	return &Budget{
		ratio:    int64(ratio * 1000),
		max:      int64(floor) * 1000,
		floor:    floor,
		per:      per,
		now:      time.Now,
		backends: make(map[string]*allowance),

		forgetAfter: DefaultForgetAfter,
		maxBackends: DefaultMaxBackends,
	}
}

// lookup returns the backend's allowance, or nil when it has none yet.
func (b *Budget) lookup(backend string) *allowance {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.backends[backend]
}

// allowance returns the backend's allowance, creating one with an empty
// reserve on first use, and marks it used at now.
func (b *Budget) allowance(backend string, now int64) *allowance {
	if a := b.lookup(backend); a != nil {
		a.used.Store(now)
		return a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.backends[backend]
	if a == nil {
		b.makeRoomLocked(now)
		a = &allowance{recent: make([]int64, b.floor)}
		b.backends[backend] = a
		b.owed.Add(b.max)
	}
	a.used.Store(now)
	return a
}

// makeRoomLocked forgets, before a new backend is added at now, the
// backends idle for forgetAfter (at most once in that time, or when the
// cap is reached), then the least recently used eighth of the cap if it
// is still reached, so that the next inserts need not sort again.
func (b *Budget) makeRoomLocked(now int64) {
	// An allowance last used longer than the floor's window ago has no
	// retry in the window: forgetting it changes no floor.
	idle := int64(max(b.forgetAfter, b.per))
	if len(b.backends) >= b.maxBackends || now-b.swept >= idle {
		b.swept = now
		for k, a := range b.backends {
			if now-a.used.Load() >= idle {
				b.forgetLocked(k, a)
			}
		}
	}
	if len(b.backends) < b.maxBackends {
		return
	}
	type use struct {
		key  string
		a    *allowance
		used int64
	}
	uses := make([]use, 0, len(b.backends))
	for k, a := range b.backends {
		uses = append(uses, use{k, a, a.used.Load()})
	}
	slices.SortFunc(uses, func(x, y use) int { return cmp.Compare(x.used, y.used) })
	keep := b.maxBackends - max(b.maxBackends/8, 1)
	for _, u := range uses[:max(len(uses)-keep, 0)] {
		b.forgetLocked(u.key, u.a)
	}
}

// forgetLocked removes a from the Budget and takes what its reserve lacks
// out of owed. Its reserve becomes dead, so that a caller still holding a
// changes owed no more.
func (b *Budget) forgetLocked(key string, a *allowance) {
	delete(b.backends, key)
	v := a.reserve.Swap(dead)
	b.owed.Add(-(b.max - v))
}

// Deposit records a request to backend: its first attempt, whatever its
// outcome. It adds Ratio of a retry to the backend's reserve, up to the
// cap, and allocates nothing. A backend that never needed a retry has no
// reserve, and Deposit leaves it so.
func (b *Budget) Deposit(backend string) {
	if a := b.lookup(backend); a != nil {
		a.used.Store(b.now().UnixNano())
		b.add(a, b.ratio)
	}
}

// add puts milli-retries back into a reserve, up to the cap.
func (b *Budget) add(a *allowance, n int64) {
	for {
		v := a.reserve.Load()
		if v >= b.max || v < 0 {
			return // full, or forgotten
		}
		m := min(v+n, b.max)
		if a.reserve.CompareAndSwap(v, m) {
			b.owed.Add(v - m)
			return
		}
	}
}

// Allow takes one retry to backend from the floor or, when the floor is
// spent for the current window, from the reserve, and reports whether
// either allowed it.
func (b *Budget) Allow(backend string) bool {
	now := b.now().UnixNano()
	a := b.allowance(backend, now)
	if b.takeFloor(a, now) {
		return true
	}
	for {
		v := a.reserve.Load()
		if v < 1000 {
			return false // spent, or forgotten (dead is negative)
		}
		if a.reserve.CompareAndSwap(v, v-1000) {
			b.owed.Add(1000)
			return true
		}
	}
}

// takeFloor takes a retry from the floor when fewer than Floor were taken
// in the last window: the oldest of the last Floor is older than it.
func (b *Budget) takeFloor(a *allowance, now int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if oldest := a.recent[a.next]; oldest != 0 && now-oldest < int64(b.per) {
		return false
	}
	a.recent[a.next] = now
	a.next = (a.next + 1) % len(a.recent)
	return true
}

// refund returns n retries to the backend's reserve, up to the cap: the
// request they were taken for was answered.
func (b *Budget) refund(backend string, n int) {
	b.add(b.allowance(backend, b.now().UnixNano()), int64(n)*1000)
}

// Full reports whether every backend's reserve is at its cap, so that a
// Deposit would change nothing: a caller may then skip naming the backend,
// which can cost an allocation. A Budget that never allowed a retry is
// full.
func (b *Budget) Full() bool {
	return b.owed.Load() == 0
}

// Tokens returns how many retries the budget would allow the backend now,
// without taking any: what the floor has left in the current window plus
// the reserve, in whole and fractional retries.
func (b *Budget) Tokens(backend string) float64 {
	a := b.lookup(backend)
	if a == nil {
		return float64(b.floor)
	}
	now := b.now().UnixNano()
	a.mu.Lock()
	left := 0
	for _, at := range a.recent {
		if at == 0 || now-at >= int64(b.per) {
			left++
		}
	}
	a.mu.Unlock()
	return float64(left) + float64(max(a.reserve.Load(), 0))/1000
}
