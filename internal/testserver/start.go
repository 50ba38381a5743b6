package testserver

import (
	"testing"
	"time"
)

// apacheMaxRequests is Apache's default MaxKeepAliveRequests.
const apacheMaxRequests = 100

// Names lists the servers Start knows, in the order the suites run them.
func Names() []string { return []string{"go", "node", "nginx", "apache"} }

// Start starts the named server ("go", "node", "nginx" or "apache") with
// idle timeout idle. Apache gets MaxKeepAliveRequests 100, its default, so
// that its connections end the way a stock httpd's do.
func Start(t testing.TB, name string, idle time.Duration) *Backend {
	t.Helper()
	switch name {
	case "go":
		return GoBackend(t, idle)
	case "node":
		return NodeBackend(t, idle)
	case "nginx":
		return NginxBackend(t, idle)
	case "apache":
		return ApacheBackend(t, idle, apacheMaxRequests)
	}
	t.Fatalf("testserver: unknown server %q", name)
	return nil
}
