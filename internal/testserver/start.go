package testserver

import (
	"testing"
	"time"
)

// Names lists the servers Start knows, in the order the suites run them.
func Names() []string { return []string{"go", "node", "nginx"} }

// Start starts the named server ("go", "node" or "nginx") with idle
// timeout idle.
func Start(t testing.TB, name string, idle time.Duration) *Backend {
	t.Helper()
	switch name {
	case "go":
		return GoBackend(t, idle)
	case "node":
		return NodeBackend(t, idle)
	case "nginx":
		return NginxBackend(t, idle)
	}
	t.Fatalf("testserver: unknown server %q", name)
	return nil
}
