package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/internal/attempt"
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
	wroteReq  atomic.Bool // set from the base transport's writer goroutine
	gotHeader bool

	body     io.ReadCloser // the base transport's response body
	bodyOnce sync.Once
}

// roundTripOnce runs one attempt on the base transport.
func (t *Transport) roundTripOnce(req *http.Request) (*http.Response, error) {
	a := &attemptTrace{t: t, req: req}
	a.trace.GotConn = a.gotConnHook
	a.trace.WroteRequest = a.wroteRequestHook
	ctx := withTrace(req.Context(), &a.trace, &a.ctx, t.traceKey)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, a.fail(err)
	}
	a.gotHeader = true
	a.gotResponse(req, resp)
	return resp, nil
}

func (a *attemptTrace) gotConnHook(info httptrace.GotConnInfo) {
	c := trackedConn(info.Conn)
	a.gotConn = true
	a.reused = info.Reused
	a.idleFor = info.IdleTime
	if c == nil {
		// Dialed by something we could not wrap (a proxy's CONNECT tunnel
		// reports the same conn): nothing to count.
		return
	}
	a.conn = c
	a.written0, a.read0 = c.written.Load(), c.read.Load()
	a.gen = c.acquire(a.req.URL, info.Conn)
	a.isHTTP2 = c.http2
}

func (a *attemptTrace) wroteRequestHook(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		a.wroteReq.Store(true)
	}
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
	}
	if a.conn != nil {
		p.Written = a.conn.written.Load() - a.written0
		p.Read = a.conn.read.Load() - a.read0
	}
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
	e := attempt.Classify(err, a.progress())
	// A reused connection that failed before any response byte was most
	// likely closed by the backend while idle: evidence of its timeout.
	if e.Reused && e.IdleFor > 0 && e.BytesRead == 0 && !e.HTTP2 && a.conn != nil &&
		(e.Kind == attempt.KindEOF || e.Kind == attempt.KindReset || e.Kind == attempt.KindServerClosedIdle) {
		a.t.idle.ObserveClosedIdle(a.conn.key, e.IdleFor)
	}
	return e
}

// gotResponse learns from the response headers and takes over the body, so
// that the connection's return to the pool is seen and a body that breaks
// off is classified too.
func (a *attemptTrace) gotResponse(req *http.Request, resp *http.Response) {
	if a.conn == nil || a.isHTTP2 {
		return
	}
	if ka := resp.Header["Keep-Alive"]; len(ka) > 0 {
		a.t.idle.ObserveKeepAlive(a.conn.key, ka)
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The body is the raw connection now (httputil.ReverseProxy needs
		// it to stay an io.ReadWriteCloser); the pool never sees it again.
		a.conn.hijack()
	case resp.Body == nil || resp.Body == http.NoBody:
		// The base transport returned the connection to the pool already.
		a.conn.release(a.gen)
	default:
		a.body = resp.Body
		resp.Body = (*attemptBody)(a)
	}
}

// done releases the connection once the response body is finished with.
func (a *attemptTrace) done() {
	a.bodyOnce.Do(func() { a.conn.release(a.gen) })
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
