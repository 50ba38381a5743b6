//lint:file-ignore SA1019 x/net/http2 is deprecated in favour of net/http's own HTTP/2 from Go 1.27; up to Go 1.26 it is the HTTP/2 implementation whose error types can be inspected

package transport

import (
	"net/http"
	"time"

	"github.com/resilient-http/resilient/idle"

	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

// Transport is an http.RoundTripper that wraps an http.Transport and makes
// its pooled keep-alive connections safe to reuse.
//
// Every connection the base transport dials is tracked: the bytes it
// carries, whether it sits idle in the pool and for how long. Every attempt
// is traced with net/http/httptrace, and a failed attempt is returned as an
// *AttemptError that says how far the request got (see Stage), whether its
// connection was reused and how long it had been idle, so that callers and
// the retry policy can tell a request that provably never reached the
// backend from one that may have run.
//
// Failed attempts are retried under a retry.Policy, retry.Default() unless
// WithRetry or WithoutRetry says otherwise: idempotent requests after
// failures before the response headers and on 502, 503 and 504;
// non-idempotent ones only when the attempt provably never reached the
// server, or when a retry.Hook (per client in the Policy, per request with
// retry.WithHook) allows it. A reset of a reused connection is retried at
// once on a fresh connection; other retries wait for the policy's backoff
// or the server's Retry-After, never past the context's deadline. A
// per-backend retry.Budget (WithRetryBudget) stops retries when a backend
// fails wholesale. Request bodies are replayed with GetBody, or from a
// buffer filled while the first attempt streams them (up to
// Policy.BodyLimit), which every attempt also offers the base transport as
// its GetBody: net/http and x/net/http2 resend by themselves a request the
// server never got, and must be able to rewind its body. When the last
// attempt fails, RoundTrip returns a *retry.Error that wraps its
// *AttemptError and says why retrying stopped; when it got a response,
// that response is returned. A request that succeeds at once allocates
// nothing for all this.
//
// Every attempt is an OpenTelemetry client span, a child of the caller's
// span (under otelhttp.NewTransport, of otelhttp's), following the HTTP
// semantic conventions, with the attempt's trace context injected into a
// copy of the request's headers. The span also says whether the connection
// was reused and how long it had been idle, how far a failed attempt got,
// what the retry loop decided and why, and the backend's idle limit and its
// source. Metrics count attempt durations, failures by stage, retries by
// reason, denied retries, connections closed by the idle limit or by the
// server, and each backend's idle limit. The providers are the global ones
// unless WithTracerProvider or WithMeterProvider say otherwise; while they
// are no-ops, telemetry costs nothing. WithLogger logs retry decisions and
// learned idle limits.
//
// HTTP/2 over TLS is served by golang.org/x/net/http2, configured on the
// base transport by New, so that its stream and GOAWAY errors can be
// inspected.
//
// A Transport is safe for concurrent use and never modifies the request it
// is given. Create it with New; the zero value is not usable.
type Transport struct {
	base  *http.Transport
	http2 *http2.Transport // nil when HTTP/2 is not enabled on the base

	traceKey any // httptrace's context key, see traceContext

	retry   retry.Policy // normalized; unused when noRetry
	noRetry bool
	budget  *retry.Budget
	idle    *idle.Tracker
	tel     *telemetry
}

// New returns a Transport configured by opts. Without options it wraps a
// clone of http.DefaultTransport.
func New(opts ...Option) *Transport {
	cfg := newConfig(opts)
	t := &Transport{
		traceKey: learnTraceKey(),
		retry:    cfg.retry,
		noRetry:  cfg.noRetry,
		budget:   cfg.budget,
		idle:     cfg.idle.newTracker(),
	}
	base := cfg.base.Clone()
	t.installDialers(base)
	healthCheckHTTP2(base, cfg.idle.h2ReadIdle, cfg.idle.h2PingLimit)
	t.http2 = configureHTTP2(base)
	t.tel = newTelemetry(cfg.telemetry, t.idle)
	t.base = base
	return t
}

// RoundTrip implements http.RoundTripper. The response's Request is req,
// as with net/http, never the copy an attempt sent.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	if t.noRetry {
		resp, err = t.roundTripSingle(req)
	} else {
		resp, err = t.roundTripRetry(req)
	}
	if resp != nil {
		// The attempt's copy carries our httptrace hooks in its context: a
		// request built on it would run them again.
		resp.Request = req
	}
	return resp, err
}

// roundTripSingle runs exactly one attempt.
func (t *Transport) roundTripSingle(req *http.Request) (*http.Response, error) {
	resp, span, err := t.roundTripOnce(req, 1)
	endFailed(span, err)
	return resp, err
}

// CloseIdleConnections closes the connections that sit idle in the pool.
// Connections carrying a request are left alone.
func (t *Transport) CloseIdleConnections() {
	t.base.CloseIdleConnections()
}

// configureHTTP2 hands the base transport's HTTP/2 over TLS to x/net/http2
// when the base would use HTTP/2 at all. It returns nil when it does not,
// or when the caller had already configured HTTP/2 themselves.
func configureHTTP2(base *http.Transport) *http2.Transport {
	if !base.ForceAttemptHTTP2 || base.TLSNextProto != nil {
		return nil
	}
	h2, err := http2.ConfigureTransports(base)
	if err != nil {
		return nil
	}
	return h2
}

// healthCheckHTTP2 turns on HTTP/2 pings: Keep-Alive does not exist in
// HTTP/2, so a ping on a connection that went quiet finds it dead before a
// request is sent on it. Settings the caller made on the base are kept.
func healthCheckHTTP2(base *http.Transport, readIdle, pingTimeout time.Duration) {
	h2 := http.HTTP2Config{}
	if base.HTTP2 != nil {
		h2 = *base.HTTP2
	}
	if h2.SendPingTimeout == 0 {
		h2.SendPingTimeout = readIdle
	}
	if h2.PingTimeout == 0 {
		h2.PingTimeout = pingTimeout
	}
	base.HTTP2 = &h2
}
