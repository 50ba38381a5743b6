package testserver

import (
	"net/http"
	"net/url"
	"testing"
)

// H2Names lists the servers H2Backend knows.
func H2Names() []string { return []string{"go", "node"} }

// H2 is a running HTTP/2 server over TLS (h2 negotiated with ALPN; it
// answers nothing else) with a ledger of executions per X-Request-Id. It
// serves sleep=MS as the package doc says; other behaviours are not
// promised.
type H2 struct {
	// Name says which server this is: "go" or "node".
	Name string
	// URL is the server's base URL, https://127.0.0.1:port.
	URL *url.URL
	// Cert is the server's certificate: clients trust Cert.Pool.
	Cert *Cert

	ledger func(t testing.TB) map[string]int
	drain  func(t testing.TB)
}

// H2Backend starts the named HTTP/2 server ("go" or "node") with a
// certificate of its own.
func H2Backend(t testing.TB, name string) *H2 {
	t.Helper()
	switch name {
	case "go":
		return goH2Backend(t)
	case "node":
		return nodeH2Backend(t)
	}
	t.Fatalf("testserver: unknown HTTP/2 server %q", name)
	return nil
}

// Ledger returns the executions per request id since the server started.
func (b *H2) Ledger(t testing.TB) map[string]int {
	t.Helper()
	return b.ledger(t)
}

// Drain shuts the server down gracefully, the way each one is drained in
// production, and returns once the drain has begun: every connection gets
// a GOAWAY naming the last stream the server took, the streams it took
// run to the end, and new connections are still accepted on the same
// address.
//
// Go's http.Server is shut down (Shutdown closes its listener at once)
// and a replacement sharing the ledger starts on the same address, as in
// a rolling restart. Node.js closes every open session and keeps
// listening.
func (b *H2) Drain(t testing.TB) {
	t.Helper()
	b.drain(t)
}

// h2Only answers 505 to anything but HTTP/2, so that a client that did
// not negotiate h2 fails instead of silently testing HTTP/1.1.
func h2Only(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "HTTP/2 only", http.StatusHTTPVersionNotSupported)
			return
		}
		h.ServeHTTP(w, r)
	})
}
