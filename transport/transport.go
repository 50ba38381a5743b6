//lint:file-ignore SA1019 x/net/http2 is deprecated in favour of net/http's own HTTP/2 from Go 1.27; up to Go 1.26 it is the HTTP/2 implementation whose error types can be inspected

package transport

import (
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/telemetry"
	"github.com/resilient-http/resilient/retry"
	"golang.org/x/net/http2"
)

// Transport is an http.RoundTripper that wraps an http.Transport and makes
// its pooled keep-alive connections safe to reuse. Create it with [New];
// the zero value is not usable. A Transport is safe for concurrent use and
// never modifies the request it is given.
//
// Every connection the base transport dials is tracked, and is closed when
// idle before the backend's own idle limit ([Transport.IdleLimit],
// [WithIdleRatio]). A failed attempt is returned as an [*AttemptError]
// that says how far the request got and on what connection, so that a
// request that provably never reached the backend is told from one that
// may have run.
//
// A request runs as attempts. After each, [retry.Policy.Decide] says
// whether another runs, after what wait, or why none does: by default
// idempotent requests are retried after a failure before the response
// headers or a 502, 503 or 504, and other requests only when the attempt
// provably never reached the backend or a [retry.Hook] allows it, within
// the request's deadline and the backend's [retry.Budget]. [WithRetry],
// [WithoutRetry] and [WithRetryBudget] change that. When the last attempt
// failed, RoundTrip returns a [*retry.Error] that wraps its
// [*AttemptError] and says why retrying stopped; when it got a response,
// that response.
//
// Every attempt is an OpenTelemetry client span, a child of the caller's
// span (under otelhttp.NewTransport, of otelhttp's), with metrics and logs
// beside it; see [WithTracerProvider], [WithMeterProvider] and
// [WithLogger].
//
// HTTP/2 over TLS is served by golang.org/x/net/http2, configured on the
// base transport by New, so that its stream and GOAWAY errors can be
// inspected; only where the base would speak HTTP/2 over TLS itself: New
// never turns on a protocol the base has off.
//
// A request that succeeds at once costs two allocations more than the
// base transport alone: the request copy that carries the attempt's
// httptrace hooks in its context, and that context with the hooks' table
// and the response body wrapper, which may be used after the attempt
// ends. The attempt's own state and hooks are reused by later attempts
// once nothing can reach them (see attempt_reuse.go); the retry decision,
// the idle limits and telemetry with no-op providers add none on that
// path, nor does the retry budget while it is full.
type Transport struct {
	base  *http.Transport
	http2 *http2.Transport // nil when HTTP/2 is not enabled on the base

	traceKey any      // httptrace's context key, see traceContext
	proxies  proxies  // the HTTP proxies the base sends through, see peerKey
	keys     keyCache // backend keys by URL scheme and host
	age      connAge  // the connection age limit, see WithMaxConnectionAge
	watches  watches  // retired connections watched for the backend's close

	retry  retry.Policy // zero fields filled in by New
	budget *retry.Budget
	idle   *idle.Tracker
	tel    *telemetry.Telemetry

	// limitVersion counts what this Transport taught its Tracker, so that
	// a connection knows when the limit it asked for may have changed
	// (conn.limitLocked); sharedTracker says others teach it too.
	limitVersion  atomic.Uint64
	sharedTracker bool
	released      atomic.Int64 // UnixNano of a recent connection release, see sawRelease

	failures failureRing // the last failed attempts, for Handler
	attempts sync.Pool   // *attemptTrace, finished and reusable; see recycle
}

// New returns a Transport configured by opts. Without [WithBase] it wraps a
// clone of http.DefaultTransport, or, when that was replaced by a
// RoundTripper that is not an *http.Transport, a transport with the
// settings net/http's DefaultTransport has by default.
//
// New panics when an option is given a value it cannot use, with a
// message naming the option and the value: like a pattern passed to
// regexp.MustCompile, such a value is a programmer error, and New returns
// no error. A nil Option is ignored.
func New(opts ...Option) *Transport {
	cfg := newConfig(opts)
	t := &Transport{
		traceKey: learnTraceKey(),
		retry:    cfg.retry,
		budget:   cfg.budget,
		idle:     cfg.idle.newTracker(),
	}
	t.sharedTracker = cfg.idle.tracker != nil
	// Decided on the caller's base as it is: Clone sets up net/http's own
	// HTTP/2 on it first, which leaves a TLS config on the clone, and our
	// dialers come after, both of which would keep net/http on HTTP/1.
	h2 := speaksHTTP2(cfg.base)
	base := cfg.base.Clone()
	healthCheckHTTP2(base, cfg.idle.h2ReadIdle, cfg.idle.h2PingLimit)
	t.http2 = configureHTTP2(base, h2)
	t.age.max = cfg.idle.maxAge
	t.installDialers(base)
	t.proxies.watch(base)
	t.tel = newTelemetry(cfg.telemetry, t.idle)
	t.base = base
	return t
}

// RoundTrip implements http.RoundTripper. The response's Request is req,
// as with net/http, never the copy an attempt sent.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.roundTripRetry(req)
	if resp != nil {
		// The attempt's copy carries our httptrace hooks in its context: a
		// request built on it would run them again.
		resp.Request = req
	}
	return resp, err
}

// CloseIdleConnections closes the connections that sit idle in the pool.
// Connections carrying a request are left alone.
func (t *Transport) CloseIdleConnections() {
	t.base.CloseIdleConnections()
	t.watches.stopAll()
}

// configureHTTP2 hands the HTTP/2 over TLS of base, our clone, to
// x/net/http2 when the caller's base speaks HTTP/2 over TLS (speaks, see
// speaksHTTP2). It returns nil when it does not, or when the caller had
// already configured HTTP/2 themselves.
func configureHTTP2(base *http.Transport, speaks bool) *http2.Transport {
	if !speaks || base.TLSNextProto != nil {
		return nil
	}
	h2, err := http2.ConfigureTransports(base)
	if err != nil {
		return nil
	}
	if base.Protocols != nil && !base.Protocols.HTTP1() {
		// x/net offers http/1.1 in ALPN, which net/http would not offer
		// with HTTP/1 off. A new slice: the clone's NextProtos may share
		// the caller's array.
		var protos []string
		for _, p := range base.TLSClientConfig.NextProtos {
			if p != "http/1.1" {
				protos = append(protos, p)
			}
		}
		base.TLSClientConfig.NextProtos = protos
	}
	return h2
}

// speaksHTTP2 reports whether net/http speaks HTTP/2 over TLS on base, by
// the rules of http.Transport: never under GODEBUG=http2client=0; as
// Protocols says when it is set; with TLSNextProto set, when it has "h2";
// otherwise unless a custom TLS config or dialer is set without
// ForceAttemptHTTP2.
func speaksHTTP2(base *http.Transport) bool {
	switch {
	case http2ClientOff():
		return false
	case base.Protocols != nil:
		return base.Protocols.HTTP2()
	case base.TLSNextProto != nil:
		return base.TLSNextProto["h2"] != nil
	case base.ForceAttemptHTTP2:
		return true
	}
	return base.TLSClientConfig == nil && base.Dial == nil && base.DialContext == nil &&
		base.DialTLS == nil && base.DialTLSContext == nil
}

// http2ClientOff reports whether the GODEBUG setting http2client=0 is in
// effect: in the GODEBUG environment variable, or else in the defaults the
// main module was built with (its go.mod godebug lines and //go:debug
// directives). As in the runtime, the last setting of a key wins.
func http2ClientOff() bool {
	value := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				value, _ = godebugValue(s.Value, "http2client")
			}
		}
	}
	if v, ok := godebugValue(os.Getenv("GODEBUG"), "http2client"); ok {
		value = v
	}
	return value == "0"
}

// godebugValue returns the last value of key in a GODEBUG list
// ("k1=v1,k2=v2"), and whether the key is there.
func godebugValue(list, key string) (value string, ok bool) {
	for kv := range strings.SplitSeq(list, ",") {
		if k, v, found := strings.Cut(strings.TrimSpace(kv), "="); found && k == key {
			value, ok = v, true
		}
	}
	return value, ok
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
