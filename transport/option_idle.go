package transport

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/resilient-http/resilient/idle"
)

// idleConfig collects the idle options.
type idleConfig struct {
	tracker     *idle.Tracker
	all         time.Duration
	hosts       map[string]time.Duration
	ratio       float64
	h2ReadIdle  time.Duration
	h2PingLimit time.Duration
	maxAge      time.Duration

	// set names the options that configure the tracker, for the panic
	// when they meet a caller's tracker.
	set []string
}

// WithBackendIdleTimeout sets the idle timeout of every backend, as the
// backends are configured; the effective limit is d times the ratio unless
// a backend advertises or shows a shorter one. Zero means none is
// configured (the default); New panics on a negative d, and when
// WithIdleTracker is given too. Idle limits apply to HTTP/1
// connections only; HTTP/2 connections are checked with pings instead
// ([WithHTTP2HealthCheck]).
func WithBackendIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			panic(fmt.Sprintf("transport: WithBackendIdleTimeout(%s): the timeout is negative", d))
		}
		c.idle.all = d
		c.idle.set = append(c.idle.set, "WithBackendIdleTimeout")
	})
}

// WithHostIdleTimeout sets the idle timeout of one backend, given as a URL
// ("http://api:8080") or a host[:port] served over http. For plain-http
// requests through an HTTP proxy, the backend is the proxy (see
// [Transport.IdleLimit]). New panics when host is not an http or https
// backend (empty, with spaces, a path or a bad port), when d is negative,
// and when WithIdleTracker is given too. Idle limits apply to HTTP/1
// connections only; HTTP/2 connections are checked with pings instead
// ([WithHTTP2HealthCheck]).
func WithHostIdleTimeout(host string, d time.Duration) Option {
	return optionFunc(func(c *config) {
		u, err := parseBackend(host)
		if err != nil {
			panic(fmt.Sprintf("transport: WithHostIdleTimeout(%q, %s): %v", host, d, err))
		}
		if d < 0 {
			panic(fmt.Sprintf("transport: WithHostIdleTimeout(%q, %s): the timeout is negative", host, d))
		}
		if c.idle.hosts == nil {
			c.idle.hosts = map[string]time.Duration{}
		}
		c.idle.hosts[idle.Key(u)] = d
		c.idle.set = append(c.idle.set, "WithHostIdleTimeout")
	})
}

// parseBackend reads a backend given as a URL or as a host[:port].
func parseBackend(host string) (*url.URL, error) {
	if host == "" || strings.ContainsFunc(host, unicode.IsSpace) {
		return nil, errors.New("not a host or URL")
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		u, err = url.Parse("http://" + host)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a host or URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q is neither http nor https", u.Scheme)
	case u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return nil, errors.New("not a host or URL naming only a backend")
	}
	return u, nil
}

// WithIdleRatio sets the share of a backend's idle timeout that pooled
// connections may use (default idle.DefaultRatio, 0.8). New panics when r
// is outside (0, 1] (NaN and infinities included), and when
// WithIdleTracker is given too. Idle limits apply to HTTP/1
// connections only; HTTP/2 connections are checked with pings instead
// ([WithHTTP2HealthCheck]).
func WithIdleRatio(r float64) Option {
	return optionFunc(func(c *config) {
		if !(r > 0 && r <= 1) { // so written that NaN fails too
			panic(fmt.Sprintf("transport: WithIdleRatio(%v): the ratio must be in (0, 1]", r))
		}
		c.idle.ratio = r
		c.idle.set = append(c.idle.set, "WithIdleRatio")
	})
}

// WithIdleTracker makes the Transport keep its idle limits in tr, to share
// what several Transports learn, or to read it. The Transport records what
// it learns in tr; tr's settings (Ratio, Configured, the timeouts given to
// Configure) stay its owner's: New panics when an option that would change
// them (WithIdleRatio, WithBackendIdleTimeout, WithHostIdleTimeout) is
// given too. Configure tr itself before New instead. A nil tracker is
// ignored. Idle limits apply to HTTP/1
// connections only; HTTP/2 connections are checked with pings instead
// ([WithHTTP2HealthCheck]).
func WithIdleTracker(tr *idle.Tracker) Option {
	return optionFunc(func(c *config) { c.idle.tracker = tr })
}

// WithHTTP2HealthCheck sets the HTTP/2 health check: a ping is sent on a
// connection that received nothing for readIdle, and the connection is
// closed when no answer comes within pingTimeout. Defaults 15s and 5s;
// readIdle 0 turns the check off, pingTimeout 0 means x/net/http2's
// default. New panics when either is negative.
func WithHTTP2HealthCheck(readIdle, pingTimeout time.Duration) Option {
	return optionFunc(func(c *config) {
		if readIdle < 0 || pingTimeout < 0 {
			panic(fmt.Sprintf("transport: WithHTTP2HealthCheck(%s, %s): a duration is negative", readIdle, pingTimeout))
		}
		c.idle.h2ReadIdle, c.idle.h2PingLimit = readIdle, pingTimeout
	})
}

// WithMaxConnectionAge retires HTTP/1 connections older than d, as
// Envoy's max_connection_duration and .NET's PooledConnectionLifetime do,
// so that new connections follow a backend's DNS name to new addresses and
// spread over new instances. Each connection's limit is drawn from [0.9d,
// 1.1d], so that connections dialed together do not retire together.
// Past it, a connection is never closed under a request: the next request
// it carries says Connection: close (unless the caller set Close or a
// Connection header of their own), so the backend closes it after the
// response and net/http does not pool it again, and once it has sat idle
// for a second it is closed. While some connection is past its age, each
// request costs a copy of its header map, in which that Connection: close
// can be said. Zero, the default, means no limit; New panics on a negative
// d.
//
// HTTP/2 connections are left alone. From Go 1.27 HTTP/2 is net/http's
// own, which offers no way to stop new streams on one connection; x/net's
// ClientConn.SetDoNotReuse would do it on Go 1.26 only, and it is not
// used, so that both versions behave alike. An HTTP/2 connection follows
// the server's GOAWAY, and [Transport.CloseIdleConnections].
func WithMaxConnectionAge(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			panic(fmt.Sprintf("transport: WithMaxConnectionAge(%s): the age is negative", d))
		}
		c.idle.maxAge = d
	})
}

// newTracker builds the tracker from the idle options: the caller's, as it
// is, or a new one with the options' settings.
func (c *idleConfig) newTracker() *idle.Tracker {
	if c.tracker != nil {
		if len(c.set) > 0 {
			panic(fmt.Sprintf("transport: WithIdleTracker and %s: the shared tracker's settings are its owner's; configure the tracker before New", c.set[0]))
		}
		return c.tracker
	}
	tr := idle.NewTracker()
	if c.ratio > 0 {
		tr.Ratio = c.ratio
	}
	if c.all > 0 {
		tr.Configured = c.all
	}
	for k, d := range c.hosts {
		tr.Configure(k, d)
	}
	return tr
}
