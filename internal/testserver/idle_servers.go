package testserver

import (
	"net/url"
	"testing"
	"time"
)

// IdleServer is one of the real servers whose idle closes the tests
// measure: how to start it, and when it really closes an idle connection.
type IdleServer struct {
	Name  string
	Start func(t testing.TB) *url.URL
	// Close is when the server closes a connection idle since its last
	// response: its setting, but for Node.js, which closes a second after
	// its keepAliveTimeout.
	Close time.Duration
}

// IdleServers returns Go's http.Server, nginx answering by itself and
// advertising its timeout, Apache httpd without a limit on requests per
// connection, and Node.js, each with idle timeout idle.
func IdleServers(idle time.Duration) []IdleServer {
	return []IdleServer{
		{"go", func(t testing.TB) *url.URL { return GoBackend(t, idle).URL }, idle},
		{"nginx", func(t testing.TB) *url.URL { return Nginx(t, idle, true) }, idle},
		{"apache", func(t testing.TB) *url.URL { return ApacheBackend(t, idle, 0).URL }, idle},
		{"node", func(t testing.TB) *url.URL { return Node(t, idle) }, idle + time.Second},
	}
}
