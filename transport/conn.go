//lint:file-ignore SA1019 a caller may still set the deprecated Dial and DialTLS fields; they are honoured, then replaced

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// The tracked connection, in the order a connection lives: the dialers
// that wrap it, the wrapper that counts its bytes and knows when it sits
// idle, the backend whose limits it follows, and the idle limits it is
// kept under and teaches.

// dialFunc is the shape of http.Transport's dialers.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// installDialers makes every connection the base transport opens, plain or
// TLS, a tracked *conn. base must be our own clone: it is modified.
func (t *Transport) installDialers(base *http.Transport) {
	dial := base.DialContext
	if dial == nil && base.Dial != nil {
		legacy := base.Dial
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	if dial == nil {
		// The same dialer settings as http.DefaultTransport.
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	base.Dial = nil
	base.DialContext = t.tracking(dial)

	dialTLS := base.DialTLSContext
	if dialTLS == nil && base.DialTLS != nil {
		legacy := base.DialTLS
		dialTLS = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	base.DialTLS = nil
	if dialTLS != nil {
		base.DialTLSContext = t.trackingTLS(dialTLS)
	}
}

// trackingTLS wraps the caller's own TLS dialer. net/http must see the
// *tls.Conn such a dialer returns as one: it reads the negotiated protocol
// from it (HTTP/2 by ALPN) and the state for Response.TLS, and a wrapper
// would hide both, so that HTTP/1 went out on a connection that had agreed
// on HTTP/2. So a *tls.Conn is returned as it is, untracked: its bytes are
// not counted, and no idle limit applies to it. Anything else the dialer
// returns is tracked.
func (t *Transport) trackingTLS(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*tls.Conn); ok {
			return tc, nil
		}
		return newConn(c, t, addr, time.Since(start)), nil
	}
}

// tracking wraps a dialer so that its connections are tracked, and timed:
// how long a connection took to establish is about a round trip to the
// backend (see conn.dialTook).
func (t *Transport) tracking(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newConn(c, t, addr, time.Since(start)), nil
	}
}

// connState is where a tracked connection is in its life.
type connState uint8

const (
	connBusy     connState = iota // carrying a request, or not yet handed out
	connIdle                      // in the base transport's pool
	connHijacked                  // taken over (101 Switching Protocols); never touched again
	connClosed
)

// conn wraps every connection the base transport dials. It counts the bytes
// that cross it, so an attempt can prove how far it got, and it knows when
// it sits idle in the pool, so the idle limit can close it before the
// backend does and a close by the backend can be recognised as one.
type conn struct {
	net.Conn
	t    *Transport
	addr string // the address the base transport dialed

	written atomic.Int64
	read    atomic.Int64
	// When the backend's idle clock can have started at the earliest,
	// as UnixNano (see idleStart): the current response's first data
	// (zeroed as an attempt takes the connection), the last read that
	// emptied the socket's buffer, the last such read that more data
	// followed, and the last read that waited for its data.
	respAt, drained, dataAfter, arrived atomic.Int64

	mu        sync.Mutex
	state     connState
	key       string      // the peer's backend key (see peerKey), set when an attempt first gets the conn
	http2     atomic.Bool // TLS negotiated h2, or the HTTP/2 preface went out (h2c); set under mu
	protoSeen bool
	gen       uint64        // bumped each time the conn is handed to an attempt
	idleSince time.Time     // when the backend's idle clock started at the earliest, by ours (see idleStart)
	lead      time.Duration // how long before the release that was
	limit     time.Duration // idle limit armed for the current idle period
	maxLeft   atomic.Int64  // requests the backend still takes on it, see responded; -1: unknown
	lim       cachedLimit   // the backend's limit as last asked, see limitLocked
	aging     *time.Timer   // fires at the connection's age limit; nil: none
	old       bool          // past its age limit, and counted in t.age.old
	timer     *time.Timer
	timerAt   time.Time // when timer fires; zero when it is not set (see armLocked)
	closedBy  closeCause
	peerErr   error // the first read error that came from the backend
	// closedBusy: the backend closed the connection while an attempt
	// still held it, its response read but the connection not yet
	// released (see readFailed).
	closedBusy bool

	// dialTook is how long the dialer took to establish the connection:
	// about a round trip to the peer (a name lookup, or a TLS handshake
	// by the caller's own TLS dialer, only make it longer). It is
	// reported to the Tracker once, when the first attempt that gets the
	// connection names its backend (acquire). Set before the base
	// transport sees the connection, read under mu.
	dialTook time.Duration

	tls       bool        // a *tls.Conn wraps it: its close writes, so it is never watched
	watchable bool        // the armed limit is not a configured one: a close at it may be watched
	detached  atomic.Bool // retired at the limit and watched: closed to the base transport
	watch     *watch      // set with detached
}

// closeCause records who closed a connection, for observation and metrics.
type closeCause uint8

const (
	closedByNobody closeCause = iota
	closedByBase              // the base transport closed it (error, CloseIdleConnections)
	closedByLimit             // the idle limit closed it before the backend could
	closedByPeer              // the backend closed it
	closedByAge               // it was idle past its age limit
)

// newConn tracks c, which the dialer took dialTook to establish.
func newConn(c net.Conn, t *Transport, addr string, dialTook time.Duration) *conn {
	tc := &conn{Conn: c, t: t, addr: addr, dialTook: dialTook}
	tc.maxLeft.Store(-1)
	if age := t.age.limit(); age > 0 {
		tc.aging = time.AfterFunc(age, tc.aged)
	}
	return tc
}

// Read counts response bytes and recognises a close by the backend while
// the connection sat idle: the base transport keeps a read pending on every
// pooled HTTP/1 connection, so that read is where the close shows up.
func (c *conn) Read(p []byte) (int, error) {
	if c.detached.Load() {
		c.watch.handOff() // a read that came after the detach reads no more either
		return 0, c.closedError("read")
	}
	called := time.Now()
	n, err := c.Conn.Read(p)
	if c.detached.Load() {
		// Retired while this read was pending (its deadline ended it):
		// to the base transport the connection is closed, and whatever
		// came is the watcher's to see.
		c.watch.handOff()
		return 0, c.closedError("read")
	}
	c.read.Add(int64(n))
	if n > 0 {
		c.sawData(called, n < len(p))
	}
	if err != nil {
		c.readFailed(err)
	}
	return n, err
}

// closedError is the error a read or write on a closed socket returns:
// what the base transport sees of a detached connection, the same as
// when the connection is closed outright.
func (c *conn) closedError(op string) error {
	e := &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: net.ErrClosed}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}

// Write counts request bytes; a byte counted here has left this process.
// It also recognises cleartext HTTP/2 (h2c): nothing marks such a
// connection but the client connection preface it starts with, and HTTP/2
// connections carry requests concurrently, so they must never get an idle
// limit. On a TLS connection the first bytes are a handshake, never the
// preface.
func (c *conn) Write(p []byte) (int, error) {
	if c.written.Load() == 0 && len(p) >= len(http2Preface) && string(p[:len(http2Preface)]) == http2Preface {
		c.markHTTP2()
	}
	if c.detached.Load() {
		// Never a byte on a retired connection: a request the base
		// transport handed it fails as on a closed one, with nothing
		// written.
		return 0, c.closedError("write")
	}
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// Close is called by the base transport (or the TLS layer above it).
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closedBy == closedByNobody {
		c.closedBy = closedByBase
	}
	c.state = connClosed
	c.endLocked()
	detached := c.detached.Load()
	c.mu.Unlock()
	if detached {
		return nil // the watcher closes the socket
	}
	return c.Conn.Close()
}

// sawData records a read called at called that returned data; drained
// says it emptied the socket's buffer (it returned less than asked for).
func (c *conn) sawData(called time.Time, drained bool) {
	t := time.Now()
	now := t.UnixNano()
	if c.respAt.Load() == 0 {
		c.respAt.Store(now)
	}
	if t.Sub(called) > readWaited {
		// The data arrived as the read returned.
		c.arrived.Store(now)
	}
	if d := c.drained.Load(); d != 0 {
		// The buffer was empty then: this data arrived later.
		c.dataAfter.Store(d)
	}
	if drained {
		c.drained.Store(now)
	}
}

// readWaited is how long a read must have taken for the data it returned
// to count as arriving as it returned: a read of data already buffered
// takes microseconds.
const readWaited = time.Millisecond

// idleStart returns when the backend's idle clock started at the earliest,
// for a connection released at now. The backend starts it once it has
// written the response's last byte, which for a response that fits the
// socket buffers is as soon as its handler is done: no earlier than the
// last data of the response that arrived, less the one-way trip that the
// limits leave to spare (idle.Tracker.ObserveConnect). A caller that reads
// such a body slowly releases the connection later by as long as it
// takes. The last data that arrived is known when a read waited for it
// (the response's headers after a long poll, the next chunk of a stream);
// data read after a read that emptied the socket's buffer arrived after
// that read; and the response's first data arrived before it was read.
// The latest of these counts; without any, the release itself.
//
// This is our own limit's start, which errs early. A close the backend
// makes is measured from the release, which errs late (it is the backend's
// idle start plus at least the one-way trip), so that a measured close
// errs short.
func (c *conn) idleStart(now time.Time) time.Time {
	start := max(c.respAt.Load(), c.dataAfter.Load(), c.arrived.Load())
	if lead := time.Duration(now.UnixNano() - start); start > 0 && lead > 0 {
		return now.Add(-lead)
	}
	return now
}

// releasedAt returns when the idle connection was released, from which a
// close the backend makes of it is measured (see idleStart).
func (c *conn) releasedAt() time.Time { return c.idleSince.Add(c.lead) }

func (c *conn) readFailed(err error) {
	c.mu.Lock()
	if c.peerErr == nil && !errors.Is(err, net.ErrClosed) {
		c.peerErr = err
	}
	if c.state == connBusy && c.closedBy == closedByNobody && errors.Is(err, io.EOF) {
		// net/http reads on as soon as the response's body ends, and a
		// backend that closes then (a restart right after a response)
		// is seen before the attempt releases the connection: release
		// reports it.
		c.closedBusy = true
	}
	if c.state != connIdle || c.closedBy != closedByNobody || errors.Is(err, net.ErrClosed) {
		c.mu.Unlock()
		return
	}
	c.closedBy = closedByPeer
	c.state = connClosed
	c.endLocked()
	key, idleFor, spent := c.key, time.Since(c.releasedAt()), c.maxLeft.Load() == 0
	c.mu.Unlock()
	c.t.observeServerClosedIdle(key, idleFor, spent)
}

// responded records a response the connection carried, whose connection
// stays open, with its Keep-Alive header values; asked says the request
// asked for them (see Transport.askKeepAlive). Keep-Alive max=N counts
// the requests the backend still takes on this connection: Apache sends
// it only when asked and counts every request, so the count goes on down
// with each response without the header. It is never enforced (see
// idle.Limit.MaxRequests): it only explains a close. The backend learns
// from the header as a whole.
func (c *conn) responded(values []string, asked bool) {
	left := int64(-1)
	if len(values) > 0 {
		if m := idle.ParseKeepAlive(values).MaxRequests; m > 0 {
			left = int64(m)
		}
	}
	switch {
	case left > 0 || asked || len(values) > 0:
		// The backend says how many are left, or, answering, that it
		// counts none.
		c.maxLeft.Store(left)
	default:
		// Counted down with a compare-and-swap: a bodiless response's
		// connection is back in the pool before its RoundTrip returns, so
		// the next response's count can run beside this one.
		for n := c.maxLeft.Load(); n > 0 && !c.maxLeft.CompareAndSwap(n, n-1); n = c.maxLeft.Load() {
		}
	}
	if len(values) > 0 || asked {
		// After asking, no header is an answer too: the backend does not
		// advertise (any more). The key was set when the attempt got
		// the connection, before this response.
		c.t.observeKeepAlive(c.key, values)
	}
}

// maxRequestsLeft returns how many more requests the backend said it
// takes on the connection, counted down since; -1 when it did not say.
func (c *conn) maxRequestsLeft() int {
	return int(c.maxLeft.Load())
}

// closedByUs reports whether the connection was closed by its idle or
// age limit.
func (c *conn) closedByUs() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedBy == closedByLimit || c.closedBy == closedByAge
}

// peerError returns how the backend ended the connection (its FIN or
// reset as a read error), or nil if it did not.
func (c *conn) peerError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerErr
}

// http2Preface is the HTTP/2 client connection preface (RFC 9113, 3.4).
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// acquire marks the connection busy for an attempt and returns the
// generation that the attempt must present to release it, and whether the
// connection is known to speak HTTP/2. reported is what httptrace reported
// for it (c or a *tls.Conn around c).
//
// idleFor is how long net/http says the connection sat in its pool, from
// its release; the idle period counts from the last data read before
// that (c.lead earlier, see releaseLocked). One idle past its limit is
// closed here, before the request wrote a byte to
// it: its timer ran late (on a busy machine a timer can fire tens of
// milliseconds late), and the backend may close it at any moment. The
// request then goes out on another connection: net/http resends a request
// nothing of which was written, and failing that the attempt is
// unprocessed and retried.
//
// The limit armed at release may be out of date: the backend's limit may
// have come down since (this Transport learned something, or another
// client taught a shared Tracker), and a connection idle past the new
// limit is closed the same way.
//
// The first attempt names the connection's backend, and the time the
// connection took to establish is reported to the Tracker then, as the
// backend's round trip (idle.Tracker.ObserveConnect).
func (c *conn) acquire(u *url.URL, reported net.Conn, idleFor time.Duration) (gen uint64, http2 bool) {
	c.mu.Lock()
	c.respAt.Store(0) // the response to come is this attempt's
	if c.state == connIdle && !c.http2.Load() {
		idleFor += c.lead // net/http counts from the release
		if c.limit > 0 && idleFor >= c.limit {
			c.closeLocked(closedByLimit)
		} else if v := c.t.limitVersion.Load(); v != c.lim.version || c.t.sharedTracker {
			c.relimitLocked(idleFor, v)
		}
	}
	var took time.Duration
	var key string
	if !c.protoSeen {
		c.protoSeen = true
		if negotiatedHTTP2(reported) {
			c.http2.Store(true)
		}
		c.key = c.t.peerKey(c.addr, u)
		c.tls = reported != nil && reported != net.Conn(c)
		if c.http2.Load() {
			c.endLocked() // no age limit for HTTP/2 (see WithMaxConnectionAge)
		}
		took, key = c.dialTook, c.key
	}
	// The idle timer is left to run: it finds the connection busy and
	// does nothing (expire), which costs less than stopping it on every
	// request and setting it again on every release.
	if c.state == connIdle {
		c.state = connBusy
	}
	c.gen++
	gen, http2 = c.gen, c.http2.Load()
	c.mu.Unlock() // not deferred: this runs on every request
	if took > 0 {
		// Once per connection, outside mu: the Tracker takes its own lock.
		c.t.observeConnect(key, took)
	}
	return gen, http2
}

// relimitLocked closes the pooled connection, idle for idleFor, when the
// backend's limit came down below that since the connection was released:
// the Tracker is asked again, as limitLocked would have at the release,
// had it known. v is Transport.limitVersion, read before asking. The
// answer is kept (c.lim), so that the connection asks again only when the
// version moves again; its time is left as it was, so that limitRecheck
// still counts from the ask before. A connection always has its key by
// the time it is pooled.
func (c *conn) relimitLocked(idleFor time.Duration, v uint64) {
	l := c.t.idle.Limit(c.key)
	c.lim.limit, c.lim.version = l, v
	if l.Timeout > 0 && idleFor >= l.Timeout {
		// Closed at the limit it is past: a watch (startWatchLocked) goes
		// by this limit and its source.
		c.limit, c.watchable = l.Timeout, l.Source != idle.SourceConfigured
		c.closeLocked(closedByLimit)
	}
}

// markHTTP2 records that the connection speaks HTTP/2, learned after it
// was handed out: from the preface it sent, or from a response. An HTTP/2
// connection is never idle in our sense, so no limit is armed on it.
func (c *conn) markHTTP2() {
	c.mu.Lock()
	c.http2.Store(true)
	c.endLocked()
	c.mu.Unlock()
}

// isHTTP2 reports whether the connection is known to speak HTTP/2.
func (c *conn) isHTTP2() bool {
	return c.http2.Load()
}

// release puts the connection back to idle after the attempt of generation
// gen finished with it, and arms the idle limit. A stale generation means
// another attempt already took the connection: it is left alone, so a
// connection carrying a request is never closed by the limit.
func (c *conn) release(gen uint64) {
	c.mu.Lock()
	closed := c.releaseLocked(gen)
	var key string
	var spent bool
	if closed {
		key, spent = c.key, c.maxLeft.Load() == 0
	}
	c.mu.Unlock() // not deferred: this runs on every request
	if closed {
		// Closed as the response ended: no idle timeout, but one of the
		// closes a restart makes at once (idle.Tracker.ObserveClosedIdle).
		c.t.observeServerClosedIdle(key, 0, spent)
	}
}

// releaseLocked reports whether the backend had closed the connection
// before the release (closedBusy): it is closed, and not put back.
func (c *conn) releaseLocked(gen uint64) (closed bool) {
	if c.gen != gen || c.state != connBusy || c.http2.Load() {
		return false
	}
	if c.closedBusy {
		c.closedBusy = false
		c.closedBy = closedByPeer
		c.state = connClosed
		c.endLocked()
		return true
	}
	c.state = connIdle
	now := time.Now()
	c.idleSince = c.idleStart(now)
	c.lead = now.Sub(c.idleSince)
	c.t.sawRelease(now)
	// Keep-Alive max=N is not enforced here: see idle.Limit.MaxRequests.
	l := c.limitLocked()
	c.limit, c.watchable = l.Timeout, l.Source != idle.SourceConfigured
	c.armLocked()
	return false
}

// cachedLimit is a backend's idle limit as a connection last asked the
// Tracker for it.
type cachedLimit struct {
	limit   idle.Limit
	version uint64 // Transport.limitVersion when it was asked
	at      int64  // UnixNano when it was asked; zero: never
}

// limitRecheck is how long a connection uses the limit it asked the
// Tracker for, while nothing was learned: the Tracker's limits also
// change with time (an unconfirmed bound lapses, observations expire),
// and it counts the asks as requests to remember the backend by.
const limitRecheck = time.Second

// limitLocked returns the backend's idle limit for the idle period that
// starts at c.idleSince: the Tracker's, asked again only when this
// Transport learned something since (Transport.learn), or after
// limitRecheck, so that a busy connection does not take the Tracker's
// lock and look its backend up on every request. A Tracker shared with
// another client (WithIdleTracker) is asked every time: what the other
// client teaches it is not counted here.
func (c *conn) limitLocked() idle.Limit {
	t := c.t
	v := t.limitVersion.Load() // before asking: a change meanwhile makes the next release ask again
	at := c.idleSince.UnixNano()
	if !t.sharedTracker && c.lim.at != 0 && c.lim.version == v && at-c.lim.at < int64(limitRecheck) {
		return c.lim.limit
	}
	l := t.idle.Limit(c.key)
	c.lim = cachedLimit{limit: l, version: v, at: at}
	return l
}

// armLocked makes sure the idle timer fires by the close time of the
// current idle period, if the connection is to be closed in it. A timer
// already set to fire earlier is left as it is: expire sets it again for
// what is left. On a busy connection the timer thus fires about once per
// idle limit instead of being stopped and set on every request, and
// setting a timer can wake an idle thread of the runtime.
func (c *conn) armLocked() {
	at := c.closeAtLocked()
	if at.IsZero() || (!c.timerAt.IsZero() && !c.timerAt.After(at)) {
		return
	}
	c.timerAt = at
	d := time.Until(at)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.expire)
	} else {
		c.timer.Reset(d)
	}
}

// closeAtLocked returns when the idle connection is to be closed: at its
// idle limit, or, once past its age, after retireGrace of idle; zero:
// never.
func (c *conn) closeAtLocked() time.Time {
	var at time.Time
	if c.limit > 0 {
		at = c.idleSince.Add(c.limit)
	}
	if c.old {
		// The grace counts from the release, when net/http may hand the
		// connection to a waiting request.
		if retire := c.releasedAt().Add(retireGrace); at.IsZero() || retire.Before(at) {
			at = retire
		}
	}
	return at
}

// retireGrace is how long a connection past its age must have been idle
// before it is closed. A connection is released after net/http put it
// back in its pool, where a waiting request may already have taken it;
// that request marks it busy (acquire) as soon as its GotConn hook runs,
// which the grace leaves time for, so that the close never hits it. 50 ms
// was not enough: under 16 workers on a loaded 2-core machine a GotConn
// came later than that. A connection in use is retired sooner, by its
// next request's Connection: close.
const retireGrace = time.Second

// hijack hands the connection over for good (protocol switch).
func (c *conn) hijack() {
	c.mu.Lock()
	c.state = connHijacked
	c.endLocked()
	c.mu.Unlock()
}

// expire runs on the idle timer. The timer may have fired for an earlier
// idle period, so the state and elapsed time are checked again.
func (c *conn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timerAt = time.Time{}
	if c.state != connIdle {
		return // busy: its release sets the timer again
	}
	if at := c.closeAtLocked(); at.IsZero() || time.Until(at) > 0 {
		c.armLocked()
		return
	}
	cause := closedByLimit
	if c.limit <= 0 || time.Since(c.idleSince) < c.limit {
		cause = closedByAge
	}
	c.closeLocked(cause)
}

func (c *conn) closeLocked(cause closeCause) {
	c.closedBy = cause
	c.state = connClosed
	c.endLocked()
	// Counted before the close, so that whoever sees the close sees the
	// count too.
	c.t.observeClosedByLimit(c.key)
	if cause == closedByLimit && c.startWatchLocked() {
		return
	}
	// Closing the socket makes the base transport's pending read fail, and
	// it drops the connection from its pool.
	_ = c.Conn.Close()
}

// Watching a retired connection. A backend's advertised timeout is only
// a lower bound on when it closes an idle connection (Node.js closes a
// second later, Apache on time), and a limit at a ratio of it costs a
// dial each time a connection would have lived on. The real close can be
// seen without risking a request: a connection retired at its limit stays
// open, detached, until the backend closes it, and the idle time of that
// close is reported to the Tracker (idle.Tracker.ObserveWatchedClose).
//
// To the base transport a detached connection is closed: its pending read
// ends (a read deadline in the past) with the error of a closed socket,
// so it drops the connection from its pool and closes it; a write, from a
// request that took the connection at that very moment, fails without a
// byte sent, as on a closed socket, so the request is retried as before.
// The socket itself is left to a watcher goroutine, which waits for the
// base transport's read to end, then reads until the backend's FIN or
// reset, for a bounded time (watchFor), and closes it.
// Transport.CloseIdleConnections ends every watch.

// watch is a detached connection's hand-over to its watcher.
type watch struct {
	released chan struct{} // closed once the base transport's read has ended
	once     sync.Once
	stop     chan struct{} // closed by CloseIdleConnections
	stopOnce sync.Once
}

// handOff tells the watcher that the base transport reads no more.
func (w *watch) handOff() { w.once.Do(func() { close(w.released) }) }

// watchFor is how long past its idle start a retired connection is
// watched: long enough for Node.js (a second past what it advertises,
// whatever the setting), twice the limit for others.
func watchFor(limit time.Duration) time.Duration { return 2*limit + 2*time.Second }

// maxWatches bounds the connections a Transport watches at once: each
// holds a socket and a goroutine.
const maxWatches = 64

// startWatchLocked detaches the connection, retired at its idle limit, to
// watch for the backend's close, and reports whether it did; if not, the
// caller closes it. Only a plain HTTP/1 connection under an unconfigured
// limit is watched: a TLS close writes an alert, and a configured limit
// keeps its ratio (its slack is unknown). And only a *net.TCPConn, whose
// read deadline is known to end a pending read: a dialer's own conn
// that ignored it would stay in the base transport's pool, detached.
func (c *conn) startWatchLocked() bool {
	if _, tcp := c.Conn.(*net.TCPConn); !tcp || !c.watchable || c.tls || c.http2.Load() || c.limit <= 0 {
		return false
	}
	w := &watch{released: make(chan struct{}), stop: make(chan struct{})}
	if !c.t.watches.add(c, w) {
		return false
	}
	c.watch = w
	c.detached.Store(true) // before the deadline, so that the read ending sees it
	if c.Conn.SetReadDeadline(time.Now()) != nil {
		// The read ends anyway, on the closed socket.
		_ = c.Conn.Close()
	}
	go c.watchClose(w, c.key, c.releasedAt(), c.idleSince.Add(watchFor(c.limit)))
	return true
}

// watchClose runs the watch of a detached connection (see watch).
// released is when the connection was released: the close is measured
// from it (see idleStart).
func (c *conn) watchClose(w *watch, key string, released, until time.Time) {
	defer c.t.watches.remove(c)
	defer func() { _ = c.Conn.Close() }()
	wait := time.NewTimer(time.Until(until))
	defer wait.Stop()
	select {
	case <-w.released:
	case <-w.stop:
		return
	case <-wait.C:
		return
	}
	if c.Conn.SetReadDeadline(until) != nil {
		return
	}
	var buf [64]byte
	for {
		_, err := c.Conn.Read(buf[:])
		if err == nil {
			continue // bytes on an idle connection (a 408) are not its close
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
			return // no close within the watch, or the watch was stopped
		}
		select {
		case <-w.stop:
			return
		default:
		}
		// The FIN or reset: measured from the release, which came after
		// the backend's idle clock started, so it errs short.
		c.t.observeWatchedClose(key, time.Since(released))
		return
	}
}

// watches are the connections a Transport watches.
type watches struct {
	mu sync.Mutex
	m  map[*conn]*watch
}

// add registers c's watch, unless maxWatches are running.
func (ws *watches) add(c *conn, w *watch) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.m) >= maxWatches {
		return false
	}
	if ws.m == nil {
		ws.m = map[*conn]*watch{}
	}
	ws.m[c] = w
	return true
}

func (ws *watches) remove(c *conn) {
	ws.mu.Lock()
	delete(ws.m, c)
	ws.mu.Unlock()
}

// stopAll ends every watch and closes its socket.
func (ws *watches) stopAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for c, w := range ws.m {
		w.stopOnce.Do(func() { close(w.stop) })
		_ = c.Conn.Close()
	}
}

func (c *conn) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timerAt = time.Time{}
	}
}

// endLocked stops the connection's timers and uncounts it as old: it is
// closed, hijacked, or HTTP/2, which the age limit leaves alone.
func (c *conn) endLocked() {
	c.stopTimerLocked()
	if c.aging != nil {
		c.aging.Stop()
	}
	if c.old {
		c.old = false
		c.t.age.old.Add(-1)
	}
}

// aged runs on the age timer: the connection is past its age limit. It is
// not to carry another request (see Transport.retiring), and is closed
// once idle.
func (c *conn) aged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == connClosed || c.state == connHijacked || c.http2.Load() || c.old {
		return
	}
	c.old = true
	c.t.age.old.Add(1)
	if c.state == connIdle {
		c.armLocked()
	}
}

// pastAge reports whether the HTTP/1 connection is past its age limit.
func (c *conn) pastAge() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.old && !c.http2.Load()
}

// connAge is a Transport's connection age limit (WithMaxConnectionAge).
type connAge struct {
	max time.Duration // zero: none
	old atomic.Int32  // open HTTP/1 connections past their limit
}

// limit draws a new connection's age limit: max plus or minus up to a
// tenth, so that connections dialed together do not all retire together.
func (a *connAge) limit() time.Duration {
	if a.max <= 0 {
		return 0
	}
	spread := int64(a.max / 5)
	if spread <= 0 {
		return a.max
	}
	return a.max - a.max/10 + time.Duration(rand.Int64N(spread+1))
}

// retiring prepares r, our own copy of the caller's request, to retire
// the connection it gets when that one is past its age: it returns r's
// header, ours to write (a copy when cloned is false), for the GotConn
// hook to say Connection: close in. A server answers that request, then
// closes the connection, and net/http never pools it again: the only way
// to stop net/http reusing a connection without closing it under a
// request. Nil when no connection is past its age, and when the caller
// set Close or their own Connection header, which stay theirs; cloned
// says askKeepAlive already made the header ours.
func (t *Transport) retiring(r *http.Request, cloned bool) http.Header {
	if t.age.old.Load() == 0 || r.Close || (!cloned && len(r.Header["Connection"]) > 0) {
		return nil
	}
	if !cloned {
		h := r.Header.Clone()
		if h == nil {
			h = make(http.Header, 1)
		}
		r.Header = h
	}
	return r.Header
}

// trackedConn finds our wrapper under what the base transport reports in
// httptrace.GotConnInfo: the wrapper itself, or a *tls.Conn around it.
func trackedConn(nc net.Conn) *conn {
	for nc != nil {
		switch c := nc.(type) {
		case *conn:
			return c
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// backendKey names the backend a URL points at; see idle.Key.
func backendKey(u *url.URL) string { return idle.Key(u) }

// maxCachedKeys bounds the backend keys a Transport caches, as the idle
// tracker bounds the backends it remembers.
const maxCachedKeys = idle.DefaultMaxBackends

// keyCache names backends by the scheme and host a URL gives, so that the
// hot path finds a request's backend without building a string, nor
// taking a lock: the last backend asked for is one pointer away, and the
// others are in lock-free maps keyed by the host as written.
type keyCache struct {
	last  atomic.Pointer[hostEntry] // the entry of the last lookup
	http  sync.Map                  // URL.Host -> *hostEntry, for scheme http
	https sync.Map                  // URL.Host -> *hostEntry, for scheme https
	other sync.Map                  // hostOf -> *hostEntry: any other scheme
	n     atomic.Int64              // entries stored, about: bounds the maps
}

// hostOf is a URL's backend as written.
type hostOf struct{ scheme, host string }

// hostEntry is what the transport keeps of a backend as a URL names it.
type hostEntry struct {
	hostOf
	key string // backendKey of the URL

	// quietUntil is when askKeepAlive asks the Tracker again whether to
	// ask the backend for its Keep-Alive header (UnixNano); until then
	// the answer was no.
	quietUntil atomic.Int64

	// advertises says the last response whose Keep-Alive header was
	// looked at had one: until a backend sends it unasked, the header is
	// looked for only in answers to asks (see attemptTrace.keepAlive).
	advertises atomic.Bool
}

// of returns backendKey(u), from the cache when it can.
func (k *keyCache) of(u *url.URL) string { return k.entry(u).key }

// entry returns u's backend entry, made on first use.
func (k *keyCache) entry(u *url.URL) *hostEntry {
	if e := k.last.Load(); e != nil && e.host == u.Host && e.scheme == u.Scheme {
		return e
	}
	m, key := &k.other, any(hostOf{u.Scheme, u.Host})
	switch u.Scheme {
	case "http":
		m, key = &k.http, u.Host
	case "https":
		m, key = &k.https, u.Host
	}
	e, ok := m.Load(key)
	if !ok {
		if k.n.Add(1) > maxCachedKeys {
			// Full: start over rather than grow.
			k.http.Clear()
			k.https.Clear()
			k.other.Clear()
			k.n.Store(1)
		}
		e, _ = m.LoadOrStore(key, &hostEntry{hostOf: hostOf{u.Scheme, u.Host}, key: backendKey(u)})
	}
	k.last.Store(e.(*hostEntry))
	return e.(*hostEntry)
}

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
	return t.keys.of(u)
}

// proxies remembers the HTTP proxies the base transport's Proxy function
// named, by the address the base transport dials for them, so that a
// connection can tell whether it leads to a proxy. A Proxy function may
// choose per request: only what it returned is known.
type proxies struct {
	mu     sync.RWMutex
	byAddr map[string]string // dialed address -> "http" or "https"
	some   atomic.Bool       // byAddr is not empty
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
	p.some.Store(true)
	p.mu.Unlock()
}

// any reports whether the base transport has named an HTTP proxy.
func (p *proxies) any() bool { return p.some.Load() }

// scheme returns the scheme of the HTTP proxy at the dialed address addr,
// or "" when no proxy is known there.
func (p *proxies) scheme(addr string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.byAddr[addr]
}

// observeServerClosedIdle records that the backend closed a pooled
// connection after it had been idle for idleFor. spent says the backend
// had counted down the connection's last request (Keep-Alive max): that
// explains the close, which then teaches nothing of its idle timeout.
func (t *Transport) observeServerClosedIdle(key string, idleFor time.Duration, spent bool) {
	t.tel.ConnClosed(key, false)
	if !spent {
		t.learn(key, func() { t.idle.ObserveClosedIdle(key, idleFor) })
	}
}

// observeWatchedClose records that the backend closed a connection
// retired at its idle limit, and watched, after idleFor of idle.
func (t *Transport) observeWatchedClose(key string, idleFor time.Duration) {
	t.learn(key, func() { t.idle.ObserveWatchedClose(key, idleFor) })
}

// observeStale records that a reused connection c failed as one the
// backend had closed after it had been idle for idleFor, afterWrite after
// the request was written (zero: the write failed); see
// idle.Tracker.ObserveStale for which failures teach. A connection whose
// requests the backend had counted down teaches nothing: its request
// count explains the close. Nor does one that we closed, at its idle or
// age limit, as a request took it (acquire) or as net/http handed it out:
// the request failed by our doing, not the backend's.
func (t *Transport) observeStale(c *conn, idleFor, afterWrite time.Duration) {
	if c.maxRequestsLeft() == 0 || c.closedByUs() {
		return
	}
	t.learn(c.key, func() { t.idle.ObserveStale(c.key, idleFor, afterWrite) })
}

// observeConnect records that a new connection to the backend key took
// took to establish: about a round trip, which the backend's limits leave
// to spare (idle.Tracker.ObserveConnect). For a backend reached through a
// CONNECT tunnel or a SOCKS proxy, it is the round trip to the proxy,
// short of the backend's own behind it.
func (t *Transport) observeConnect(key string, took time.Duration) {
	t.learn(key, func() { t.idle.ObserveConnect(key, took) })
}

// observeReuse records that a reused connection to the backend key, idle
// for idleFor, carried a response: the backend's timeout is longer.
func (t *Transport) observeReuse(key string, idleFor time.Duration) {
	t.learn(key, func() { t.idle.ObserveReuse(key, idleFor) })
}

// learn runs observe, and reports the backend's limit when it changed and
// telemetry wants to know.
func (t *Transport) learn(key string, observe func()) {
	// Counted after the observation: a connection that reads the count
	// before it asks the Tracker (conn.limitLocked) never keeps a limit
	// older than what it read.
	defer t.limitVersion.Add(1)
	if !t.tel.LearnsLimits() {
		observe()
		return
	}
	before := t.idle.Limit(key)
	observe()
	t.tel.LimitLearned(key, before, t.idle.Limit(key))
}

// askKeepAlive adds Connection: keep-alive to r, our own copy of the
// caller's request, while its backend's advertisement is unknown or due
// for a refresh, and reports whether it did. Apache httpd advertises its
// idle timeout only to a request that says so; asking copies the header
// map, so it is not done on every request. The caller's own Connection
// header or Close is left alone, and so is a request through an HTTP
// proxy, whose answer would describe the proxy and never the backend
// asked about. HTTP/2 drops the header.
func (t *Transport) askKeepAlive(r *http.Request, e *hostEntry) bool {
	// The Tracker's answer stays no for a minute after the backend
	// answered; asking it at most once a second keeps its lock and map
	// off the hot path, and so does reading the time a connection was
	// last released rather than the clock (a stale time only delays an
	// ask by a request).
	now := t.released.Load()
	if now < e.quietUntil.Load() || r.Close || len(r.Header["Connection"]) > 0 || t.proxies.any() {
		return false
	}
	if now == 0 {
		now = time.Now().UnixNano()
	}
	if !t.idle.AskKeepAlive(e.key) {
		e.quietUntil.Store(now + int64(askQuiet))
		return false
	}
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header, 1)
	}
	h["Connection"] = []string{"keep-alive"}
	r.Header = h
	return true
}

// askQuiet is how long askKeepAlive trusts the Tracker's no.
const askQuiet = time.Second

// sawRelease records when a connection was last released, which
// askKeepAlive reads instead of the clock; stored only when it moved by a
// millisecond, so that parallel requests do not all write it.
func (t *Transport) sawRelease(at time.Time) {
	if n := at.UnixNano(); n-t.released.Load() > int64(time.Millisecond) {
		t.released.Store(n)
	}
}

// observeKeepAlive learns from a response's Keep-Alive header values.
func (t *Transport) observeKeepAlive(key string, values []string) {
	t.learn(key, func() { t.idle.ObserveKeepAlive(key, values) })
}

// observeClosedByLimit records that the idle limit closed a connection.
func (t *Transport) observeClosedByLimit(key string) { t.tel.ConnClosed(key, true) }
