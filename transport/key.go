package transport

import (
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/resilient-http/resilient/idle"
)

// backendKey names the backend a URL points at; see idle.Key.
func backendKey(u *url.URL) string { return idle.Key(u) }

// peerKey names the backend whose idle limits a connection follows: the
// peer at its other end, which sends the Keep-Alive headers and closes it
// when idle. addr is the address the base transport dialed for it, u the
// URL of the first request it carried.
//
// Through an HTTP proxy, a plain-http request is sent to the proxy itself,
// which keeps the connection alive on its own terms (Keep-Alive is
// hop-by-hop), and net/http pools one such connection per proxy for every
// target: the peer is the proxy. An https request goes through a CONNECT
// tunnel, and a SOCKS5 proxy relays bytes: the peer is the target.
func (t *Transport) peerKey(addr string, u *url.URL) string {
	if u.Scheme == "http" {
		if scheme := t.proxies.scheme(addr); scheme != "" {
			return idle.Key(&url.URL{Scheme: scheme, Host: addr})
		}
	}
	return backendKey(u)
}

// proxies remembers the HTTP proxies the base transport's Proxy function
// named, by the address the base transport dials for them, so that a
// connection can tell whether it leads to a proxy. A Proxy function may
// choose per request: only what it returned is known.
type proxies struct {
	mu     sync.RWMutex
	byAddr map[string]string // dialed address -> "http" or "https"
}

// watch makes base, our own clone, report the HTTP proxies its Proxy
// function returns.
func (p *proxies) watch(base *http.Transport) {
	proxy := base.Proxy
	if proxy == nil {
		return
	}
	base.Proxy = func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if err == nil && u != nil {
			p.seen(u)
		}
		return u, err
	}
}

// seen records the proxy u. Only HTTP proxies answer requests themselves.
func (p *proxies) seen(u *url.URL) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return
	}
	// The address net/http dials for a proxy: its host and port, the
	// scheme's default port when it has none.
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	p.mu.RLock()
	known := p.byAddr[addr] == u.Scheme
	p.mu.RUnlock()
	if known {
		return
	}
	p.mu.Lock()
	if p.byAddr == nil {
		p.byAddr = map[string]string{}
	}
	p.byAddr[addr] = u.Scheme
	p.mu.Unlock()
}

// scheme returns the scheme of the HTTP proxy at the dialed address addr,
// or "" when no proxy is known there.
func (p *proxies) scheme(addr string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.byAddr[addr]
}
