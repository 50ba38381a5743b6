package testserver

import (
	"net/url"
	"sync"
	"testing"
)

// Backend is a running server with a ledger of executions per
// X-Request-Id (see the package doc for the behaviours it offers). Its
// methods are safe for concurrent use.
type Backend struct {
	// Name says which server this is: "go", "node", "nginx" or "apache".
	Name string
	// URL is the server's base URL, http://127.0.0.1:port.
	URL *url.URL

	ledger func(t testing.TB) map[string]int
	stop   func(t testing.TB)
	start  func(t testing.TB)

	mu      sync.Mutex
	down    bool
	release func() // frees the port reserved while down
}

// Ledger returns the executions per request id since the backend started,
// across restarts and while it is stopped.
func (b *Backend) Ledger(t testing.TB) map[string]int {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ledger(t)
}

// Runs returns how many times the request id ran.
func (b *Backend) Runs(t testing.TB, id string) int {
	t.Helper()
	return b.Ledger(t)[id]
}

// Total returns how many requests ran, all ids together.
func (b *Backend) Total(t testing.TB) int {
	t.Helper()
	n := 0
	for _, runs := range b.Ledger(t) {
		n += runs
	}
	return n
}

// Restart stops the server at once, dropping every connection it holds as
// a crashed process would, and starts it again on the same address. The
// ledger survives. It returns when the new server accepts connections.
func (b *Backend) Restart(t testing.TB) {
	t.Helper()
	b.Stop(t)
	b.Start(t)
}

// Stop stops the server at once, dropping every connection it holds as a
// crashed process would, and leaves its address without a listener: a
// dial is refused until Start. The port stays reserved for Start, so that
// no other server of a parallel test takes it. The ledger survives.
// Stopping a stopped backend fails the test.
func (b *Backend) Stop(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		t.Fatalf("testserver: %s backend stopped twice", b.Name)
	}
	b.stop(t)
	b.release = reserve(t, b.URL.Host)
	t.Cleanup(b.release)
	b.down = true
}

// Start starts a stopped server again on its address, with the ledger it
// had. It returns when the server accepts connections. Starting a running
// backend fails the test.
func (b *Backend) Start(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down {
		t.Fatalf("testserver: %s backend started while running", b.Name)
	}
	b.start(t)
	b.release()
	b.down = false
}
