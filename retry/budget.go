package retry

import (
	"sync"
	"sync/atomic"
)

// Budget limits retries per backend with a token bucket, as gRPC does
// (gRFC A6): each backend starts with MaxTokens tokens; a retry costs one
// token and is denied when fewer than half remain; every request that
// succeeds (is not retried) returns Ratio of a token, up to MaxTokens. A
// backend that fails wholesale thus gets about Ratio retries per request
// until it recovers.
//
// A backend is any name; Decide and the transport name backends as
// idle.Key does ("http://api:8080"). A Budget is safe for concurrent use. Its zero value is not usable; create
// it with NewBudget.
type Budget struct {
	max   int64 // in milli-tokens
	ratio int64 // in milli-tokens
	// owed is how many milli-tokens all backends together lack, so that
	// Full can answer without naming a backend.
	owed atomic.Int64

	mu       sync.RWMutex
	backends map[string]*atomic.Int64
}

// NewBudget returns a Budget of maxTokens per backend that refills by ratio
// for each success. Non-positive values mean the defaults, 10 and 0.1.
func NewBudget(maxTokens, ratio float64) *Budget {
	if maxTokens <= 0 {
		maxTokens = 10
	}
	if ratio <= 0 {
		ratio = 0.1
	}
	return &Budget{
		max:      int64(maxTokens * 1000),
		ratio:    int64(ratio * 1000),
		backends: make(map[string]*atomic.Int64),
	}
}

// bucket returns the backend's tokens, creating a full bucket on first use.
func (b *Budget) bucket(backend string) *atomic.Int64 {
	b.mu.RLock()
	t := b.backends[backend]
	b.mu.RUnlock()
	if t != nil {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t = b.backends[backend]; t == nil {
		t = new(atomic.Int64)
		t.Store(b.max)
		b.backends[backend] = t
	}
	return t
}

// Success records a request to backend that needed no retry. It allocates
// nothing once the backend is known.
func (b *Budget) Success(backend string) {
	t := b.bucket(backend)
	for {
		v := t.Load()
		if v >= b.max {
			return
		}
		n := min(v+b.ratio, b.max)
		if t.CompareAndSwap(v, n) {
			b.owed.Add(v - n)
			return
		}
	}
}

// Allow takes a token for one retry to backend and reports whether the
// budget permits it.
func (b *Budget) Allow(backend string) bool {
	t := b.bucket(backend)
	for {
		v := t.Load()
		if v-1000 < b.max/2 {
			return false
		}
		if t.CompareAndSwap(v, v-1000) {
			b.owed.Add(1000)
			return true
		}
	}
}

// Full reports whether every backend holds all its tokens, so that a
// Success would change nothing: a caller may then skip naming the backend,
// which can cost an allocation.
func (b *Budget) Full() bool {
	return b.owed.Load() == 0
}

// Tokens returns the backend's remaining tokens.
func (b *Budget) Tokens(backend string) float64 {
	return float64(b.bucket(backend).Load()) / 1000
}
