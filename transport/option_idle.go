package transport

import (
	"net/url"
	"time"

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
}

// WithBackendIdleTimeout sets the idle timeout of every backend, as the
// backends are configured; the effective limit is d times the ratio unless
// a backend advertises or shows a shorter one.
func WithBackendIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.idle.all = d })
}

// WithHostIdleTimeout sets the idle timeout of one backend, given as a URL
// ("http://api:8080") or a host[:port] served over http. For plain-http
// requests through an HTTP proxy, the backend is the proxy (see
// [Transport.IdleLimit]).
func WithHostIdleTimeout(host string, d time.Duration) Option {
	return optionFunc(func(c *config) {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" {
			u = &url.URL{Scheme: "http", Host: host}
		}
		if c.idle.hosts == nil {
			c.idle.hosts = map[string]time.Duration{}
		}
		c.idle.hosts[idle.Key(u)] = d
	})
}

// WithIdleRatio sets the share of a backend's idle timeout that pooled
// connections may use (default 0.8). Values outside (0, 1] are ignored.
func WithIdleRatio(r float64) Option {
	return optionFunc(func(c *config) {
		if r > 0 && r <= 1 {
			c.idle.ratio = r
		}
	})
}

// WithIdleTracker makes the Transport keep its idle limits in tr, to share
// them between Transports or inspect them. A nil tracker is ignored.
func WithIdleTracker(tr *idle.Tracker) Option {
	return optionFunc(func(c *config) { c.idle.tracker = tr })
}

// WithHTTP2HealthCheck sets the HTTP/2 health check: a ping is sent on a
// connection that received nothing for readIdle, and the connection is
// closed when no answer comes within pingTimeout. Defaults 15s and 5s;
// readIdle 0 turns the check off.
func WithHTTP2HealthCheck(readIdle, pingTimeout time.Duration) Option {
	return optionFunc(func(c *config) {
		c.idle.h2ReadIdle, c.idle.h2PingLimit = readIdle, pingTimeout
	})
}

// newTracker builds the tracker from the idle options.
func (c *idleConfig) newTracker() *idle.Tracker {
	tr := c.tracker
	if tr == nil {
		tr = idle.NewTracker()
	}
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
