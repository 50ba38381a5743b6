package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/internal/telemetry"
	"github.com/resilient-http/resilient/retry"
)

// attemptTrace follows one attempt through the base transport: it is the
// httptrace hooks, the progress they record and the attempt's telemetry,
// in one object that is reused by later attempts once nothing can use it
// any more (see recycle), so that an attempt that needs no retry costs no
// allocation for it.
type attemptTrace struct {
	t     *Transport
	hooks attemptHooks // made once per object, kept across reuses
	attemptState
}

// attemptState is what an attemptTrace knows of its attempt: all of it
// starts over, zeroed, when the object is reused.
type attemptState struct {
	req  *http.Request
	link *attemptLink // what outlives the attempt's reuse: its trace, context and response body
	tel  telemetry.Attempt

	// Set by GotConn, which runs on the goroutine that called RoundTrip.
	gotConns int // how many connections the base transport gave the attempt
	conn     *conn
	gen      uint64
	idleFor  time.Duration
	written0 int64
	read0    int64
	gotConn  bool
	reused   bool
	isHTTP2  bool
	asked    bool // the request asked for Keep-Alive: an answer without it counts
	host     *hostEntry

	// retire is the attempt's own header map while a connection is past
	// its age, in which GotConn asks such a connection's backend to close
	// it; nil otherwise (see Transport.retiring).
	retire http.Header

	gotHeader bool
	earlier   retry.Stage  // how far the attempt got on connections the base gave up on
	wroteReq  atomic.Bool  // set from the base transport's writer goroutine
	wroteAt   atomic.Int64 // UnixNano when the request was written; stored before wroteReq
	writes    atomic.Int32 // WroteRequest hooks that have run, the last thing each does
	interim   atomic.Bool  // a 1xx response arrived; set from the base transport's reader
	interims  atomic.Int32 // how many
	getBody   func() (io.ReadCloser, error)

	sent bodyWatch // whether the request body failed to read; nil when it cannot

	// resent watches the body of the caller's GetBody that the base
	// transport took last to send the request again by itself (see
	// rewind); nil while it took none, or one that cannot fail.
	resent     atomic.Pointer[sentBody]
	idempotent bool

	actx *attemptContext // bounds the attempt by Policy.AttemptTimeout; nil without one
}

// roundTripOnce runs attempt n (from 1) of a request on the base
// transport, and reports it to telemetry at fixed points: its start here,
// its connection in gotConnHook, a resend by the base in baseResent, its
// end here and in fail, and, after the retry loop decided on it, its
// decision. The attempt's span ends with the response body; when the
// attempt fails it is returned open, so that the retry decision can be
// recorded on it, and the caller ends it with endFailed.
//
// idempotent is retry.Idempotent(req), which the retry loop knows.
func (t *Transport) roundTripOnce(req *http.Request, n int, idempotent bool) (*http.Response, *telemetry.Attempt, error) {
	a := t.newAttemptTrace()
	a.req = req
	a.link = new(attemptLink)
	trace := &a.link.trace
	trace.GotConn = a.hooks.gotConn
	trace.WroteRequest = a.hooks.wroteRequest
	if !idempotent {
		// Only where a resend could run the request twice: a
		// Got1xxResponse hook lifts the base transport's bound on 1xx
		// header bytes, so got1xxHook bounds their number instead.
		trace.Got1xxResponse = a.hooks.got1xx
		trace.Got100Continue = a.hooks.got100
	}
	if t.retry.AttemptTimeout > 0 {
		trace.GotFirstResponseByte = a.hooks.firstByte
	}
	a.tel = t.tel.Start(req, n)
	ctx := withTrace(a.tel.Context(), trace, &a.link.ctx, t.traceKey)
	if d := t.retry.AttemptTimeout; d > 0 {
		a.actx = newAttemptContext(ctx, d)
		ctx = a.actx
	}
	r := req.WithContext(ctx)
	a.host = t.keys.entry(r.URL)
	a.asked = t.askKeepAlive(r, a.host)
	a.retire = t.retiring(r, a.asked)
	a.sent = watchBody(r)
	if r.GetBody != nil {
		// The base transport resends by itself, rewinding the body: see
		// rewind.
		a.idempotent = idempotent
		a.getBody, r.GetBody = r.GetBody, a.hooks.rewind
	}
	a.tel.Inject(r)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if a.conn != nil && !a.isHTTP2 {
			// An h2c connection is known for HTTP/2 only once its preface
			// went out, which may be after GotConn.
			a.isHTTP2 = a.conn.isHTTP2()
		}
		e := a.fail(err)
		if a.actx != nil {
			a.actx.release()
		}
		a.tel.Returned(a.connInfo(), nil, e.Kind.String())
		return nil, &a.tel, e
	}
	if a.actx != nil {
		a.actx.answered() // a base that calls no trace hook
	}
	a.gotHeader = true
	a.tel.Returned(a.connInfo(), resp, "")
	a.gotResponse(resp)
	return resp, &a.tel, nil
}

// minReuseEvidence is the shortest idle time after which a reuse that
// worked is reported to the Tracker. Shorter ones teach nothing a limit
// could use (no backend closes that soon, and limits have a floor five
// times that), and a busy backend's connections are reused after
// microseconds: not asking the Tracker keeps its lock off the hot path.
const minReuseEvidence = 10 * time.Millisecond

// endFailed ends the span of an attempt that failed before its response,
// once the retry loop has recorded its decision on it. Spans of responses
// end with their bodies.
func endFailed(tel *telemetry.Attempt, err error) {
	if err != nil {
		tel.End()
	}
}

// connInfo is what telemetry records of the attempt's connection.
func (a *attemptTrace) connInfo() telemetry.Conn {
	return telemetry.Conn{Got: a.gotConn, Reused: a.reused, IdleFor: a.idleFor, HTTP2: a.isHTTP2}
}

func (a *attemptTrace) gotConnHook(info httptrace.GotConnInfo) {
	if a.gotConn {
		a.baseResent()
	}
	a.gotConns++
	c := trackedConn(info.Conn)
	a.gotConn = true
	a.reused = info.Reused
	a.idleFor = info.IdleTime
	a.conn = c
	if c == nil {
		// Dialed by something we could not wrap (a proxy's CONNECT tunnel
		// reports the same conn): nothing to count.
		a.keepBody(info.Conn)
		return
	}
	a.written0, a.read0 = c.written.Load(), c.read.Load()
	a.gen, a.isHTTP2 = c.acquire(a.req.URL, info.Conn, info.IdleTime)
	if a.retire != nil && !a.isHTTP2 && c.pastAge() {
		a.retire["Connection"] = []string{"close"}
	}
	a.keepBody(info.Conn)
	a.tel.GotConn(c.key)
}

// keepBody tells a replayed body what its connection needs kept, before
// the base transport reads the body on it.
func (a *attemptTrace) keepBody(nc net.Conn) {
	if rb, ok := a.sent.(*replayBody); ok {
		rb.onConn(a.t.speaksHTTP1(nc, a.isHTTP2))
	}
}

// baseResent runs when the base transport gets a second connection within
// the attempt: the first one failed and the request is being sent again,
// as net/http does for a replayable request on a reused connection, and
// x/net/http2 for a stream the server refused. The attempt's progress
// starts over on the new connection; the first one's failure is recorded,
// and learned from like any other: a reused HTTP/1 connection that failed
// before any response byte was most likely closed by the backend while
// idle.
func (a *attemptTrace) baseResent() {
	// The first connection may have delivered the request: however far
	// the next one gets, the attempt got at least this far.
	a.earlier = max(a.earlier, a.progress().Stage())
	a.tel.BaseResent(a.reused, a.idleFor)
	if c := a.conn; c != nil && a.reused && a.idleFor > 0 && !a.isHTTP2 && c.read.Load() == a.read0 {
		a.t.observeStale(c, a.idleFor, a.sinceWrite())
	}
	// net/http waits for the failed connection's writer before resending,
	// so no late WroteRequest of the first connection can follow.
	a.wroteReq.Store(false)
	a.isHTTP2 = false
}

func (a *attemptTrace) wroteRequestHook(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		a.wroteAt.Store(time.Now().UnixNano())
		a.wroteReq.Store(true)
	}
	a.writes.Add(1) // last: see recycle
}

// sinceWrite is how long ago the request was written; zero when it was
// not (the write failed), as idle.Tracker.ObserveStale takes it.
func (a *attemptTrace) sinceWrite() time.Duration {
	if !a.wroteReq.Load() {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - a.wroteAt.Load())
}

// maxInterim bounds the interim responses of an attempt whose 1xx
// responses the transport watches, as net/http bounds their header bytes
// when nobody watches: a backend cannot keep the request reading them.
const maxInterim = 64

var errTooManyInterim = errors.New("resilient: too many interim (1xx) responses")

func (a *attemptTrace) got1xxHook(int, textproto.MIMEHeader) error {
	a.interim.Store(true)
	if a.interims.Add(1) > maxInterim {
		return errTooManyInterim
	}
	return nil
}

func (a *attemptTrace) got100Hook() { a.interim.Store(true) }

// errInterimResponse is what the attempt's GetBody returns to a base
// transport that would resend a non-idempotent request after an interim
// response arrived.
var errInterimResponse = errors.New("resilient: the backend sent an interim response; the request is not resent")

// rewind is the GetBody of an attempt: the caller's, or the replay
// buffer's, which the base transport calls to send the request again by
// itself (net/http on a reused connection that failed, x/net/http2 for a
// stream the server refused). For a non-idempotent request it refuses once
// an interim response arrived: the server had read the request and may
// have run it. A body it hands out from the caller's GetBody is watched
// like the first (watchBody): if it breaks, the attempt is the caller's
// failure, and the request is not sent again.
func (a *attemptTrace) rewind() (io.ReadCloser, error) {
	if !a.idempotent && a.interim.Load() {
		return nil, errInterimResponse
	}
	if err := a.bodyErr(); err != nil {
		// A body it sent broke: the caller's failure, never read again.
		return nil, err
	}
	rc, err := a.getBody()
	if err != nil {
		return rc, err
	}
	body, s := watched(rc, a.req.ContentLength)
	if s != nil {
		a.resent.Store(s)
	}
	return body, nil
}

// bodyErr is the read error of a body the attempt sent, the first or a
// copy the base transport took to resend; nil while none broke.
func (a *attemptTrace) bodyErr() error {
	if a.sent != nil {
		if err := a.sent.readErr(); err != nil {
			return err
		}
	}
	if rs := a.resent.Load(); rs != nil {
		return rs.readErr()
	}
	return nil
}

// progress snapshots what the attempt has done so far.
func (a *attemptTrace) progress() attempt.Progress {
	p := attempt.Progress{
		GotConn:         a.gotConn,
		Reused:          a.reused,
		IdleFor:         a.idleFor,
		HTTP2:           a.isHTTP2,
		WroteRequest:    a.wroteReq.Load(),
		HeadersReceived: a.gotHeader,
		Uncounted:       a.gotConn && a.conn == nil,
		Earlier:         a.earlier,
		Interim:         a.interim.Load(),
	}
	if a.conn != nil {
		p.Written = a.conn.written.Load() - a.written0
		p.Read = a.conn.read.Load() - a.read0
	}
	return p
}

// fail classifies an error of the attempt.
func (a *attemptTrace) fail(err error) *AttemptError {
	if a.conn != nil && errors.Is(err, net.ErrClosed) {
		// When net/http's reader sees the backend's reset or FIN it closes
		// the connection itself, and a write still in flight then fails
		// with net.ErrClosed: the backend's error is the cause.
		if peer := a.conn.peerError(); peer != nil {
			err = fmt.Errorf("%w (the backend had ended the connection: %w)", err, peer)
		}
	}
	p := a.progress()
	// The request's own state, read only now that the attempt failed: a
	// done context is the caller's doing, an invalid request can never
	// succeed, and checking every header costs the success path nothing.
	p.ContextErr = a.req.Context().Err()
	switch {
	case a.gotHeader:
	case p.HTTP2:
		p.Invalid = attempt.InvalidHTTP2(a.req)
	default:
		p.Invalid = attempt.Invalid(a.req)
	}
	e := classify(err, p)
	if a.actx != nil && a.actx.timedOut() && p.ContextErr == nil {
		// The transport ended the attempt at Policy.AttemptTimeout, not
		// the caller; the stage still says how far it got.
		e.Kind = retry.KindAttemptTimeout
	}
	// net/http and x/net/http2 return an attempt's error only once their
	// writer is done with the body (TestCallersBodyBreakingAfterTheBackend,
	// TestCallersBodyBreakingBesideAStreamReset): a body that broke has
	// said so by now.
	e = blameBody(e, a.sent) // before learning: the caller's broken body teaches nothing about the backend
	if rs := a.resent.Load(); rs != nil {
		e = blameBody(e, rs)
	}
	// A reused connection that failed before any response byte was most
	// likely closed by the backend while idle: evidence of its timeout.
	if e.Reused && e.IdleFor > 0 && e.BytesRead == 0 && !e.HTTP2 && a.conn != nil &&
		(e.Kind == retry.KindEOF || e.Kind == retry.KindReset || e.Kind == retry.KindServerClosedIdle) {
		a.t.observeStale(a.conn, e.IdleFor, a.sinceWrite())
	}
	a.tel.Failed(telemetry.Failure{
		Stage: e.Stage.String(), Kind: e.Kind.String(),
		BytesWritten: e.BytesWritten, BytesRead: e.BytesRead,
		Unprocessed: e.Unprocessed(), Err: e,
	})
	a.record(e) // for Handler; only failures pay for it
	return e
}

// gotResponse learns from the response headers and takes over the body, so
// that the connection's return to the pool is seen, a body that breaks
// off is classified too, and the span ends with the body.
func (a *attemptTrace) gotResponse(resp *http.Response) {
	switch {
	case a.isHTTP2:
	case a.conn != nil:
		// Cleartext HTTP/2 negotiates nothing that GotConn could see; the
		// preface the connection wrote tells, never the response's status
		// line, whose version an HTTP/1 server may spell "HTTP/2.0".
		a.isHTTP2 = a.conn.isHTTP2()
	case resp.ProtoMajor == 2:
		// An untracked connection's counts prove nothing either way.
		a.isHTTP2 = true
	}
	tracked := a.conn != nil && !a.isHTTP2
	if tracked && !resp.Close {
		a.conn.responded(a.keepAlive(resp), a.asked)
	}
	if tracked && a.reused && a.idleFor >= minReuseEvidence {
		// The backend answered on a connection idle that long: its timeout
		// is longer, which keeps one stray reset from lowering the limit
		// below it.
		a.t.observeReuse(a.conn.key, a.idleFor)
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The body is the raw connection now (httputil.ReverseProxy needs
		// it to stay an io.ReadWriteCloser); the pool never sees it again.
		if tracked {
			a.conn.hijack()
		}
		a.releaseContext()
		a.tel.End()
	case resp.Body == nil || resp.Body == http.NoBody:
		// The base transport returned the connection to the pool already.
		if tracked {
			a.conn.release(a.gen)
		}
		a.releaseContext()
		a.tel.End()
	case tracked || a.tel.Tracing() || a.actx != nil:
		resp.Body = a.link.body.wrap(resp.Body, a)
	}
}

// keepAlive returns the values of the response's Keep-Alive header, looked
// for only where they can be: in the answer to an ask, from a backend
// whose last answer had them, and through a proxy (which askKeepAlive
// never asks). A backend that stopped sending the header is not looked at
// again until the next ask, at most a minute later (see
// idle.Tracker.AskKeepAlive), which keeps a lookup off the hot path of
// every backend that does not advertise.
func (a *attemptTrace) keepAlive(resp *http.Response) []string {
	if !a.asked && !a.host.advertises.Load() && !a.t.proxies.any() {
		return nil
	}
	values := resp.Header["Keep-Alive"]
	if has := len(values) > 0; has != a.host.advertises.Load() {
		a.host.advertises.Store(has)
	}
	return values
}

// done releases the connection and ends the span once the response body
// is finished with. The response body calls it once (attemptBody).
func (a *attemptTrace) done() {
	if a.conn != nil {
		a.conn.release(a.gen)
	}
	a.releaseContext()
	a.tel.End()
}

// firstByteHook disarms the attempt's timeout: the response has begun,
// and its headers are let arrive (Policy.AttemptTimeout).
func (a *attemptTrace) firstByteHook() {
	if a.actx != nil {
		a.actx.answered()
	}
}

// releaseContext lets go of the attempt's context once the response is
// finished with; it is never canceled by it.
func (a *attemptTrace) releaseContext() {
	if a.actx != nil {
		a.actx.release()
	}
}

// negotiatedHTTP2 reports whether a connection from GotConnInfo speaks HTTP/2.
func negotiatedHTTP2(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}

// traceContext carries an attempt's httptrace hooks without the allocation
// of context.WithValue: the attemptTrace is itself the context that
// httptrace.ContextClientTrace finds them in. It falls back to
// httptrace.WithClientTrace whenever that is needed for correctness: when
// the caller's context already has hooks (they must be composed with ours)
// or when the key could not be learned.
type traceContext struct {
	context.Context
	trace *httptrace.ClientTrace
	key   any
}

// Value returns the attempt's hooks for httptrace's key and defers to the
// caller's context for every other key.
func (c *traceContext) Value(key any) any {
	if key == c.key {
		return c.trace
	}
	return c.Context.Value(key)
}

// keyProbe is a context that records the key httptrace looks its hooks up
// under. httptrace does not export the key; it only reads it.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// learnTraceKey returns the key httptrace stores hooks under, or nil.
func learnTraceKey() any {
	p := &keyProbe{Context: context.Background()}
	httptrace.ContextClientTrace(p)
	return p.key
}

// withTrace returns ctx with trace installed, reusing tc for the context
// when it can.
func withTrace(ctx context.Context, trace *httptrace.ClientTrace, tc *traceContext, key any) context.Context {
	if key == nil || httptrace.ContextClientTrace(ctx) != nil {
		return httptrace.WithClientTrace(ctx, trace)
	}
	tc.Context, tc.trace, tc.key = ctx, trace, key
	return tc
}

// newTelemetry makes the one telemetry that every attempt of a Transport
// reports to, from the options; the spans and the idle limit gauge read
// tracker.
func newTelemetry(c telemetryConfig, tracker *idle.Tracker) *telemetry.Telemetry {
	return telemetry.New(telemetry.Config{
		TracerProvider: c.tracerProvider,
		MeterProvider:  c.meterProvider,
		Propagator:     c.propagator,
		Logger:         c.logger,
	}, tracker)
}
