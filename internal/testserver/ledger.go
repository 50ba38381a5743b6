package testserver

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"
)

// ledger counts executions per request id and remembers the Idempotency-Keys
// it has run. It is safe for concurrent use.
type ledger struct {
	mu   sync.Mutex
	runs map[string]int
	keys map[string]bool
}

func newLedger() *ledger {
	return &ledger{runs: map[string]int{}, keys: map[string]bool{}}
}

// run records one execution of id unless key ran before, and returns the
// executions of id so far and whether this one ran.
func (l *ledger) run(id, key string) (runs int, ran bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" {
		if l.keys[key] {
			return l.runs[id], false
		}
		l.keys[key] = true
	}
	l.runs[id]++
	return l.runs[id], true
}

// add merges counts into the ledger.
func (l *ledger) add(counts map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, n := range counts {
		l.runs[id] += n
	}
}

func (l *ledger) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.runs)
}

// fetchLedger reads the ledger a server in another process serves as JSON
// at url, through rt.
func fetchLedger(t testing.TB, rt http.RoundTripper, url string) map[string]int {
	t.Helper()
	c := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("read the ledger at %s: %v", url, err)
	}
	defer resp.Body.Close()
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatalf("decode the ledger at %s: %v", url, err)
	}
	return counts
}
