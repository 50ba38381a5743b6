package transport

import (
	"net"
	"net/url"
	"strings"
)

// backendKey names the backend a URL points at: scheme, host and port,
// with the scheme's default port filled in. Idle limits are kept per key.
func backendKey(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(host), port)
}
