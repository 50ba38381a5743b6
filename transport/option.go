package transport

import (
	"net"
	"net/http"
	"time"

	"github.com/resilient-http/resilient/retry"
)

// Option configures a Transport. New applies options in order, so a
// later one overrides an earlier one of the same kind; a nil Option is
// ignored. An option given a value it cannot use makes New panic (see
// [New]).
type Option interface {
	apply(*config)
}

// optionFunc adapts a function to Option.
type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is everything New needs; defaults first, then options.
type config struct {
	base      *http.Transport
	retry     retry.Policy
	budget    *retry.Budget
	idle      idleConfig
	telemetry telemetryConfig
}

func newConfig(opts []Option) *config {
	c := &config{
		retry: retry.Default(),
		idle:  idleConfig{h2ReadIdle: 15 * time.Second, h2PingLimit: 5 * time.Second},
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.base == nil {
		c.base = defaultBase()
	}
	if c.budget == nil {
		c.budget = retry.NewBudget(0, 0, 0)
	}
	return c
}

// WithBase sets the http.Transport that carries the requests. New uses a
// clone of it (see http.Transport.Clone), so the caller's value is never
// modified and changes made to it after New have no effect. A nil base
// means the default of New.
//
// The connections of the base's own DialTLSContext or DialTLS that are a
// *tls.Conn reach net/http as they are, which reads the negotiated
// protocol and Response.TLS from them: the transport does not count their
// bytes, so no idle limit applies to them, and their failures are
// classified without byte counts (as on HTTP/2).
func WithBase(base *http.Transport) Option {
	return optionFunc(func(c *config) { c.base = base })
}

// defaultBase returns http.DefaultTransport when it is an *http.Transport.
// A program may have replaced it with another RoundTripper, which cannot
// be cloned: then a transport with net/http's default settings is used.
// New clones what it returns.
func defaultBase() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
