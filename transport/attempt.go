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
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
	"github.com/resilient-http/resilient/retry"
	"go.opentelemetry.io/otel/trace"
)

// attemptTrace follows one attempt through the base transport: it is the
// httptrace hooks, the progress they record and the response body wrapper,
// in one allocation.
type attemptTrace struct {
	t     *Transport
	req   *http.Request
	trace httptrace.ClientTrace
	ctx   traceContext

	// Set by GotConn, which runs on the goroutine that called RoundTrip.
	conn      *conn
	gen       uint64
	gotConn   bool
	reused    bool
	idleFor   time.Duration
	isHTTP2   bool
	written0  int64
	read0     int64
	wroteReq  atomic.Bool  // set from the base transport's writer goroutine
	interim   atomic.Bool  // a 1xx response arrived; set from the base transport's reader
	interims  atomic.Int32 // how many
	getBody   func() (io.ReadCloser, error)
	gotHeader bool
	// What the connections the base transport gave up on within this
	// attempt carried (see baseResent): bytes written on HTTP/1, or that
	// they could not be counted. A resend does not undo them.
	priorWritten   int64
	priorUncounted bool

	body     io.ReadCloser // the base transport's response body
	bodyOnce sync.Once

	sent bodyWatch // whether the request body failed to read; nil when it cannot

	span  trace.Span // the attempt's client span; nil when tracing is off
	start time.Time  // zero unless the span or the duration metric needs it
}

// roundTripOnce runs attempt n (from 1) of a request on the base
// transport. The attempt's span ends with the response body; when the
// attempt fails it is returned open, so that the retry decision can be
// recorded on it, and the caller ends it with endFailed.
func (t *Transport) roundTripOnce(req *http.Request, n int) (*http.Response, trace.Span, error) {
	a := &attemptTrace{t: t, req: req}
	a.trace.GotConn = a.gotConnHook
	a.trace.WroteRequest = a.wroteRequestHook
	if !retry.Idempotent(req) {
		// Only where a resend could run the request twice: a
		// Got1xxResponse hook lifts the base transport's bound on 1xx
		// header bytes, so got1xxHook bounds their number instead.
		a.trace.Got1xxResponse = a.got1xxHook
		a.trace.Got100Continue = a.got100Hook
	}
	ctx, span := t.tel.startAttempt(req, n)
	a.span = span
	if span != nil || t.tel.duration.Enabled(ctx) {
		a.start = time.Now()
	}
	r := req.WithContext(withTrace(ctx, &a.trace, &a.ctx, t.traceKey))
	a.sent = watchBody(r)
	if r.GetBody != nil && !retry.Idempotent(r) {
		// The HTTP/2 implementation resends a stream the server refused
		// by itself, rewinding the body; a server that had sent an
		// interim response had read the request and may have run it.
		a.getBody, r.GetBody = r.GetBody, a.rewind
	}
	t.tel.inject(ctx, span, r)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if a.conn != nil && !a.isHTTP2 {
			// An h2c connection is known for HTTP/2 only once its preface
			// went out, which may be after GotConn.
			a.isHTTP2 = a.conn.isHTTP2()
		}
		err = a.fail(err)
		a.observed(ctx, nil, err)
		return nil, span, err
	}
	a.gotHeader = true
	a.observed(ctx, resp, nil)
	a.gotResponse(resp)
	return resp, span, nil
}

// observed reports the attempt's outcome to telemetry, when anything
// records it.
func (a *attemptTrace) observed(ctx context.Context, resp *http.Response, err error) {
	if a.start.IsZero() {
		return
	}
	a.t.tel.recordDuration(ctx, a.start, a.req, resp, err)
	if a.span != nil && a.span.IsRecording() {
		a.t.tel.attemptDone(a.span, a.progress(), resp)
	}
}

func (a *attemptTrace) gotConnHook(info httptrace.GotConnInfo) {
	if a.gotConn {
		a.baseResent()
	}
	c := trackedConn(info.Conn)
	a.gotConn = true
	a.reused = info.Reused
	a.idleFor = info.IdleTime
	a.conn = c
	if c == nil {
		// Dialed by something we could not wrap (a proxy's CONNECT tunnel
		// reports the same conn): nothing to count.
		return
	}
	a.written0, a.read0 = c.written.Load(), c.read.Load()
	a.gen, a.isHTTP2 = c.acquire(a.req.URL, info.Conn)
	a.t.tel.gotConn(a.span, c.key)
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
	a.t.tel.baseResent(a.span, a.reused, a.idleFor)
	// net/http resends a replayable request after a reused connection
	// carried it and failed before the response: whatever the next
	// connection moves, the request may have run. x/net/http2 resends only
	// streams the server said it did not process.
	switch c := a.conn; {
	case c == nil:
		a.priorUncounted = true
	case !a.isHTTP2:
		a.priorWritten += c.written.Load() - a.written0
	}
	if c := a.conn; c != nil && a.reused && a.idleFor > 0 && !a.isHTTP2 && c.read.Load() == a.read0 {
		a.t.observeStale(c.key, a.idleFor)
	}
	// net/http waits for the failed connection's writer before resending,
	// so no late WroteRequest of the first connection can follow.
	a.wroteReq.Store(false)
	a.isHTTP2 = false
}

func (a *attemptTrace) wroteRequestHook(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		a.wroteReq.Store(true)
	}
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

// rewind is the GetBody of a non-idempotent attempt: the caller's, or the
// replay buffer's, refused once an interim response arrived.
func (a *attemptTrace) rewind() (io.ReadCloser, error) {
	if a.interim.Load() {
		return nil, errInterimResponse
	}
	return a.getBody()
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
		Interim:         a.interim.Load(),
		Uncounted:       a.gotConn && a.conn == nil || a.priorUncounted,
	}
	if a.conn != nil {
		p.Written = a.conn.written.Load() - a.written0
		p.Read = a.conn.read.Load() - a.read0
	}
	p.Written += a.priorWritten
	return p
}

// fail classifies an error of the attempt.
func (a *attemptTrace) fail(err error) error {
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
	e := attempt.Classify(err, p)
	e = blameBody(e, a.sent) // before learning: the caller's broken body teaches nothing about the backend
	// A reused connection that failed before any response byte was most
	// likely closed by the backend while idle: evidence of its timeout.
	if e.Reused && e.IdleFor > 0 && e.BytesRead == 0 && !e.HTTP2 && a.conn != nil &&
		(e.Kind == attempt.KindEOF || e.Kind == attempt.KindReset || e.Kind == attempt.KindServerClosedIdle) {
		a.t.observeStale(a.conn.key, e.IdleFor)
	}
	a.t.tel.failed(a.req.Context(), a.span, a.req, e)
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
	if ka := resp.Header["Keep-Alive"]; tracked && len(ka) > 0 {
		a.t.observeKeepAlive(a.conn.key, ka)
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The body is the raw connection now (httputil.ReverseProxy needs
		// it to stay an io.ReadWriteCloser); the pool never sees it again.
		if tracked {
			a.conn.hijack()
		}
		a.endSpan()
	case resp.Body == nil || resp.Body == http.NoBody:
		// The base transport returned the connection to the pool already.
		if tracked {
			a.conn.release(a.gen)
		}
		a.endSpan()
	case tracked || a.span != nil:
		a.body = resp.Body
		resp.Body = (*attemptBody)(a)
	}
}

// done releases the connection and ends the span once the response body
// is finished with.
func (a *attemptTrace) done() {
	a.bodyOnce.Do(func() {
		if a.conn != nil {
			a.conn.release(a.gen)
		}
		a.endSpan()
	})
}

func (a *attemptTrace) endSpan() {
	if a.span != nil {
		a.span.End()
	}
}

// attemptBody is the response body handed to the caller.
type attemptBody attemptTrace

// Read reads the base body; an error other than io.EOF is classified as a
// failure after the response headers.
func (b *attemptBody) Read(p []byte) (int, error) {
	a := (*attemptTrace)(b)
	n, err := a.body.Read(p)
	switch err {
	case nil:
	case io.EOF:
		a.done()
	default:
		err = a.fail(err)
	}
	return n, err
}

// Close closes the base body and releases the connection.
func (b *attemptBody) Close() error {
	a := (*attemptTrace)(b)
	err := a.body.Close()
	a.done()
	return err
}

// negotiatedHTTP2 reports whether a connection from GotConnInfo speaks HTTP/2.
func negotiatedHTTP2(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}
