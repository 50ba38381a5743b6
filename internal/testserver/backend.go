package testserver

import (
	"net/url"
	"testing"
)

// Backend is a running server with a ledger of executions per
// X-Request-Id (see the package doc for the behaviours it offers).
type Backend struct {
	// Name says which server this is: "go", "node" or "nginx".
	Name string
	// URL is the server's base URL, http://127.0.0.1:port.
	URL *url.URL

	ledger  func(t testing.TB) map[string]int
	restart func(t testing.TB)
}

// Ledger returns the executions per request id since the backend started,
// across restarts.
func (b *Backend) Ledger(t testing.TB) map[string]int {
	t.Helper()
	return b.ledger(t)
}

// Runs returns how many times the request id ran.
func (b *Backend) Runs(t testing.TB, id string) int {
	t.Helper()
	return b.ledger(t)[id]
}

// Total returns how many requests ran, all ids together.
func (b *Backend) Total(t testing.TB) int {
	t.Helper()
	n := 0
	for _, runs := range b.ledger(t) {
		n += runs
	}
	return n
}

// Restart stops the server at once, dropping every connection it holds as
// a crashed process would, and starts it again on the same address. The
// ledger survives. It returns when the new server accepts connections.
func (b *Backend) Restart(t testing.TB) {
	t.Helper()
	b.restart(t)
}
