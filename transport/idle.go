package transport

import (
	"net/url"

	"github.com/resilient-http/resilient/idle"
)

// IdleLimit returns the effective idle limit for the backend u points at,
// and where it came from. Limits belong to the peer a connection leads to:
// plain-http requests sent through an HTTP proxy ride connections to the
// proxy, whose limit is the proxy URL's; https requests through a proxy
// ride tunnels to their target.
func (t *Transport) IdleLimit(u *url.URL) idle.Limit {
	return t.idle.Limit(idle.Key(u))
}
