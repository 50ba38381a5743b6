package idle

import (
	"net"
	"net/url"
	"strings"
)

// Key names the backend a URL points at: "scheme://host:port", with the
// scheme's default port filled in. Limits are kept per key.
func Key(u *url.URL) string {
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
