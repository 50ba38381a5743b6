package transport

import (
	"net/url"

	"github.com/resilient-http/resilient/idle"
)

// backendKey names the backend a URL points at; see idle.Key.
func backendKey(u *url.URL) string { return idle.Key(u) }
