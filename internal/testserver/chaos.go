package testserver

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Chaos is a hostile Go backend on two listeners of 127.0.0.1, HTTP/1.1 on
// H1 and HTTP/2 over TLS on H2, sharing one ledger. For every request that
// reaches it, it draws a ChaosFault from a generator seeded with the seed
// given to StartChaos, the request's X-Request-Id and how many times that
// id has arrived before: the same seed puts the same fault on the n-th
// arrival of a request whatever the scheduling, so that a failure can be
// replayed. Only the idle closes (an HTTP/1.1 IdleTimeout, an HTTP/2
// GOAWAY after an idle spell, both chaosIdleTimeout) follow the clock.
//
// Requests identify themselves with headers: X-Request-Id (the caller's
// request), traceparent (the attempt, by its span ID), Idempotency-Key,
// and X-Body-Len, the length of the body ChaosBody made for the id. A
// request is executed once its whole body has been read; the ledger keeps
// every arrival and every execution, raw: Chaos never de-duplicates by
// Idempotency-Key, so that duplicates can be counted.
type Chaos struct {
	// H1 is the HTTP/1.1 listener's base URL, http://127.0.0.1:port.
	H1 *url.URL
	// H2 is the HTTP/2 listener's base URL, https://127.0.0.1:port; it
	// negotiates nothing but h2.
	H2 *url.URL
	// Cert is H2's certificate: clients trust Cert.Pool.
	Cert *Cert

	seed uint64
	stop chan struct{} // closed when the servers stop: ends every wait

	mu       sync.Mutex
	arrived  map[string]int // arrivals per request id
	arrivals []ChaosArrival
	runs     []ChaosRun
}

// ChaosFault is what Chaos does to one request.
type ChaosFault uint8

// The faults. Those named Before end the request before its body is read,
// so that it is never executed; the others execute it first.
const (
	// FaultNone answers 200.
	FaultNone ChaosFault = iota
	// FaultResetBefore resets the connection (RST) before reading the
	// body.
	FaultResetBefore
	// FaultJunkBefore answers malformed bytes, hostile text included,
	// before reading the body, and closes the connection (HTTP/1.1).
	FaultJunkBefore
	// FaultRefusedBefore resets the stream with REFUSED_STREAM (HTTP/2).
	// One request id in fifty is refused on every arrival, as by an
	// overloaded server, so that x/net/http2's own resends (1s, 2s, 4s
	// apart) run into the request's deadline.
	FaultRefusedBefore
	// FaultGoAwayBefore sends a GOAWAY whose last stream is below this
	// one, lets the streams it took finish and closes the connection
	// (HTTP/2).
	FaultGoAwayBefore
	// FaultResetAfter executes, then resets the connection (RST) without
	// answering.
	FaultResetAfter
	// FaultJunkAfter executes, then answers malformed bytes carrying
	// hostile text (the words of GOAWAY, REFUSED_STREAM, "server closed
	// idle connection") and closes the connection; over HTTP/2, a
	// malformed :status.
	FaultJunkAfter
	// FaultGoAwayAfter executes, then sends a GOAWAY that covers this
	// stream with hostile debug text and closes the connection (HTTP/2).
	FaultGoAwayAfter
	// FaultStreamResetAfter executes, then resets the stream with
	// INTERNAL_ERROR (HTTP/2).
	FaultStreamResetAfter
	// FaultCloseAfter answers 200 and closes the connection shortly
	// after, without saying so (HTTP/1.1).
	FaultCloseAfter
	// FaultKeepAlive answers 200 with a Keep-Alive header of odd values
	// (max=1, timeout=0, timeout=abc, huge) (HTTP/1.1).
	FaultKeepAlive
	// FaultStallFinish sends part of the body, stalls, then finishes.
	FaultStallFinish
	// FaultStallAbort sends part of the body, stalls, then aborts.
	FaultStallAbort
	// Fault503 answers 503 with Retry-After 0 or 1.
	Fault503
)

var faultNames = [...]string{
	FaultNone:             "none",
	FaultResetBefore:      "reset_before",
	FaultJunkBefore:       "junk_before",
	FaultRefusedBefore:    "refused_before",
	FaultGoAwayBefore:     "goaway_before",
	FaultResetAfter:       "reset_after",
	FaultJunkAfter:        "junk_after",
	FaultGoAwayAfter:      "goaway_after",
	FaultStreamResetAfter: "stream_reset_after",
	FaultCloseAfter:       "close_after",
	FaultKeepAlive:        "keep_alive",
	FaultStallFinish:      "stall_finish",
	FaultStallAbort:       "stall_abort",
	Fault503:              "503",
}

// String returns the fault's snake_case name.
func (f ChaosFault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "unknown"
}

// weighted is one entry of a fault table.
type weighted struct {
	fault  ChaosFault
	weight int
}

// Half the requests meet a fault. The faults that end a whole HTTP/2
// connection end every stream on it, up to a hundred at once here, and
// x/net/http2 waits 1s, 2s, 4s... before its second and later resends of
// the streams a GOAWAY refused: they are rare, or every request would
// spend its deadline waiting.
var (
	h1Faults = []weighted{
		{FaultNone, 50}, {FaultResetBefore, 6}, {FaultJunkBefore, 4}, {FaultResetAfter, 6},
		{FaultJunkAfter, 8}, {FaultCloseAfter, 8}, {FaultKeepAlive, 8},
		{FaultStallFinish, 4}, {FaultStallAbort, 3}, {Fault503, 6},
	}
	h2Faults = []weighted{
		{FaultNone, 60}, {FaultRefusedBefore, 8}, {FaultGoAwayBefore, 1}, {FaultResetAfter, 1},
		{FaultJunkAfter, 4}, {FaultGoAwayAfter, 1}, {FaultStreamResetAfter, 6},
		{FaultStallFinish, 4}, {FaultStallAbort, 3}, {Fault503, 6},
	}
)

// hostile are texts that net/http and x/net/http2 put in their own error
// messages: a server can send them too, and they must change nothing.
var hostile = []string{
	"http: server closed idle connection",
	"http2: Transport received Server's graceful shutdown GOAWAY",
	"stream error: stream ID 1; REFUSED_STREAM",
	"http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=\"\"",
	"GOAWAY REFUSED_STREAM server closed idle connection",
}

// ChaosArrival is one request whose headers reached the backend: an
// attempt, or a resend of it by net/http or x/net/http2 (same span ID).
type ChaosArrival struct {
	// Proto is "HTTP/1.1" or "HTTP/2.0".
	Proto string
	// RequestID is the X-Request-Id header.
	RequestID string
	// SpanID is the span ID of the traceparent header, in hex; empty
	// without one.
	SpanID string
	// Method is the request method.
	Method string
	// IdempotencyKey is the Idempotency-Key header.
	IdempotencyKey string
	// Fault is what the backend did to it.
	Fault ChaosFault
}

// ChaosRun is one execution: an arrival whose whole body was read.
type ChaosRun struct {
	ChaosArrival
	// BodyOK reports that the body was the one ChaosBody makes for the
	// request id and the length in X-Body-Len.
	BodyOK bool
	// Reset reports that the backend reset the connection (RST), or shut
	// an HTTP/2 connection down, after this execution, possibly before
	// the client read its answer: then the client cannot tell it from a
	// request that never ran.
	Reset bool
}

// StartChaos starts both listeners, with faults drawn from seed. They stop
// in t.Cleanup, closing every connection and waiting for every goroutine
// they started.
func StartChaos(t testing.TB, seed uint64) *Chaos {
	t.Helper()
	c := &Chaos{
		Cert:    SelfSigned(t),
		seed:    seed,
		stop:    make(chan struct{}),
		arrived: map[string]int{},
	}
	h1 := startChaosH1(t, c)
	h2 := startChaosH2(t, c)
	c.H1 = &url.URL{Scheme: "http", Host: h1.addr}
	c.H2 = &url.URL{Scheme: "https", Host: h2.addr}
	t.Cleanup(func() {
		close(c.stop)
		h1.close()
		h2.close()
	})
	return c
}

// Arrivals returns every arrival so far, in order.
func (c *Chaos) Arrivals() []ChaosArrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.arrivals)
}

// Runs returns every execution so far, in order.
func (c *Chaos) Runs() []ChaosRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.runs)
}

// ChaosBody is the request body of request id with n bytes: the id
// repeated, so that a body sent for the wrong request, truncated or
// reordered is seen.
func ChaosBody(id string, n int) []byte {
	unit := []byte(id + ";")
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// chaosRequest is what the backend reads of a request's headers.
type chaosRequest struct {
	ChaosArrival
	bodyLen int // -1 when X-Body-Len is missing or malformed
	rng     *rand.Rand
}

// stickyPercent is the share of request ids that meet their listener's
// sticky fault on every arrival.
const stickyPercent = 2

// arrive records an arrival and draws its fault from table, or gives it
// sticky (unless FaultNone) when its id is one of those that always meet
// it. The generator it returns draws the fault's details (delays, texts)
// the same way.
func (c *Chaos) arrive(proto, method, id, traceparent, key, bodyLen string, table []weighted, sticky ChaosFault) *chaosRequest {
	c.mu.Lock()
	n := c.arrived[id]
	c.arrived[id] = n + 1
	c.mu.Unlock()
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	r := &chaosRequest{
		ChaosArrival: ChaosArrival{Proto: proto, RequestID: id, SpanID: spanID(traceparent), Method: method, IdempotencyKey: key},
		bodyLen:      -1,
		rng:          rand.New(rand.NewPCG(c.seed, h.Sum64()+uint64(n))),
	}
	if l, err := strconv.Atoi(bodyLen); err == nil && l >= 0 {
		r.bodyLen = l
	}
	total := 0
	for _, w := range table {
		total += w.weight
	}
	x := r.rng.IntN(total)
	if sticky != FaultNone && rand.New(rand.NewPCG(c.seed, h.Sum64())).IntN(100) < stickyPercent {
		x = total // past every entry
		r.Fault = sticky
	}
	for _, w := range table {
		if x < w.weight {
			r.Fault = w.fault
			break
		}
		x -= w.weight
	}
	c.mu.Lock()
	c.arrivals = append(c.arrivals, r.ChaosArrival)
	c.mu.Unlock()
	return r
}

// execute records the execution of r, whose whole body is body, and
// returns its index for reset.
func (c *Chaos) execute(r *chaosRequest, body []byte) int {
	ok := r.bodyLen == len(body) && bytes.Equal(body, ChaosBody(r.RequestID, r.bodyLen))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs = append(c.runs, ChaosRun{ChaosArrival: r.ChaosArrival, BodyOK: ok})
	return len(c.runs) - 1
}

// reset marks execution i as followed by a reset of its connection.
func (c *Chaos) reset(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[i].Reset = true
}

// spanID returns the parent-id field of a W3C traceparent header:
// version-traceid-parentid-flags.
func spanID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[2]) != 16 {
		return ""
	}
	return parts[2]
}

// stall waits between 50ms and 400ms, or until the request or the servers
// end. It reports whether the wait ran to the end.
func (c *Chaos) stall(r *chaosRequest, done <-chan struct{}) bool {
	d := time.Duration(50+r.rng.IntN(350)) * time.Millisecond
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-done:
	case <-c.stop:
	}
	return false
}

// hostileText draws one of the hostile texts.
func (r *chaosRequest) hostileText() string {
	return hostile[r.rng.IntN(len(hostile))]
}

// retryAfter draws a Retry-After value: 0 or 1 second.
func (r *chaosRequest) retryAfter() string {
	return strconv.Itoa(r.rng.IntN(2))
}

// chaosWork counts the goroutines a chaos listener started, so that its
// close can wait for them: unlike a sync.WaitGroup, it may be asked to add
// one after the wait began (a connection's goroutine may start a handler
// after http.Server.Close), and then says no.
type chaosWork struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{} // closed when n drops to 0 after close
}

// add counts one goroutine, unless close was called.
func (w *chaosWork) add() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.n++
	return true
}

func (w *chaosWork) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n--
	if w.closed && w.n == 0 {
		close(w.zero)
	}
}

// close refuses further goroutines and waits for those counted.
func (w *chaosWork) close() {
	w.mu.Lock()
	w.closed = true
	w.zero = make(chan struct{})
	if w.n == 0 {
		close(w.zero)
	}
	zero := w.zero
	w.mu.Unlock()
	<-zero
}
