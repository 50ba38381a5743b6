package faults_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var chaosSeedFlag = flag.Uint64("chaos.seed", 0, "seed of TestChaos; 0 means $CHAOS_SEED, or a random one")

const (
	// chaosRequests is how many requests each client sends, all at once.
	chaosRequests = 200
	// chaosSpread spreads their start times, so that some find pooled
	// connections and some find them just closed.
	chaosSpread = 1500 * time.Millisecond
	// chaosDeadline is each request's context deadline.
	chaosDeadline = 5 * time.Second
	// chaosGrace is how late after its deadline a request may return
	// before it counts as hung: a loaded machine is slow, not wrong.
	chaosGrace = 2 * time.Second
	// chaosCloseWait bounds the wait for request bodies to be closed:
	// net/http may close one after RoundTrip returned.
	chaosCloseWait = 5 * time.Second
)

// errCallerBody is what a failing request body returns: the caller's
// failure, which no retry can cure.
var errCallerBody = errors.New("chaos: the caller's request body failed")

// TestChaos is the proof beyond unit tests: two clients built with
// transport.New, one with the default policy and one with the opt-in
// retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true}, each
// send 200 concurrent GET, PUT and POST requests (bodies streamed without
// GetBody, with GetBody, or failing half-way) to a hostile Go backend
// (testserver.Chaos, HTTP/1.1 and HTTP/2 over TLS) that, for each
// request, draws a fault from a seeded generator: idle connections closed
// early or just after a response, resets before and after executing,
// stalled and aborted bodies, malformed responses carrying the very words
// net/http and x/net/http2 put in their errors, odd Keep-Alive headers,
// 503 with Retry-After, REFUSED_STREAM, GOAWAY (honest, or covering an
// executed stream with hostile debug text) and stream resets.
//
// Every attempt carries its span context in traceparent; the backend keeps
// a raw ledger of arrivals and executions by span ID, request id and
// Idempotency-Key. Asserted, with the seed in every failure:
//
//  1. under the default policy no POST is executed twice;
//  2. under the opt-in policy every attempt of a POST carries the same
//     Idempotency-Key, and no key is executed twice, except after an
//     execution whose connection the backend then reset (RST), possibly
//     before the client read the answer: the client cannot tell that from
//     a request that never ran, and StaleConnection is documented to
//     repeat it, for backends that de-duplicate (CHAOS_STRICT_KEYS=1
//     counts those too);
//  3. no attempt reported unprocessed (span attribute
//     resilient.attempt.unprocessed, or ErrUnprocessed on the final error)
//     was executed;
//  4. every request body is closed exactly once (and no GetBody copy
//     twice);
//  5. no goroutine is left (goleak, in TestMain);
//  6. every request returns, with a response or an error, by its deadline
//     (plus chaosGrace);
//  7. a caller's body that failed is never read again (no retry after
//     the caller's own failure), and its request fails;
//  8. every executed body is the caller's, byte for byte.
//
// The seed is logged; rerun one with -chaos.seed=N or CHAOS_SEED=N. The
// faults a request meets depend on the seed alone; which connection it
// finds, and so whether it is reused, depends on timing, and no assertion
// does.
func TestChaos(t *testing.T) {
	seed := chaosSeed(t)
	t.Logf("chaos seed %d (rerun with -chaos.seed=%d or CHAOS_SEED=%d)", seed, seed, seed)
	srv := testserver.StartChaos(t, seed)
	clients := []*chaosClient{
		newChaosClient(t, srv, seed, "d", "default"),
		newChaosClient(t, srv, seed, "o", "opt-in", transport.WithRetry(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})),
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	var calls []*chaosCall
	for _, c := range clients {
		for i := range chaosRequests {
			calls = append(calls, planCall(rng, srv, c, i))
		}
	}

	var wg sync.WaitGroup
	for _, call := range calls {
		wg.Go(call.run)
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	watchdog := time.NewTimer(chaosSpread + chaosDeadline + 3*chaosGrace)
	defer watchdog.Stop()
	select {
	case <-finished:
	case <-watchdog.C:
		var hung []string
		for _, call := range calls {
			if !call.finished.Load() {
				hung = append(hung, call.id)
			}
		}
		t.Fatalf("seed %d: invariant 6: %d requests still running long past their deadline: %v", seed, len(hung), hung)
	}
	closesDone := waitCloses(calls, chaosCloseWait)
	for _, c := range clients {
		c.rt.CloseIdleConnections()
	}

	v := &violations{t: t, seed: seed}
	ledger := newChaosLedger(srv)
	spans := map[string][]chaosSpan{} // by request id
	for _, c := range clients {
		for _, s := range c.spans() {
			spans[s.id] = append(spans[s.id], s)
		}
	}
	for id := range spans {
		slices.SortFunc(spans[id], func(a, b chaosSpan) int { return a.resend - b.resend })
	}
	// Invariant 3 reads what the spans and the ledger say: both must say
	// something, or it holds vacuously.
	for _, a := range ledger.arrivals {
		if a.SpanID == "" {
			t.Fatalf("seed %d: request %s arrived without a traceparent: attempts cannot be told apart", seed, a.RequestID)
		}
	}
	failed, labelled, unprocessed := 0, 0, 0
	for _, s := range spans {
		for _, a := range s {
			if a.kind != "" {
				failed++
			}
			if a.hasUnprocessed {
				labelled++
			}
			if a.unprocessed {
				unprocessed++
			}
		}
	}
	if failed == 0 || labelled != failed || unprocessed == 0 {
		t.Fatalf("seed %d: %d failed attempts, %d with resilient.attempt.unprocessed, %d of them true: want some, all labelled, some unprocessed",
			seed, failed, labelled, unprocessed)
	}

	for _, call := range calls {
		call.check(v, ledger, spans[call.id], closesDone)
	}
	for _, s := range spans {
		for _, a := range s {
			if a.unprocessed && len(ledger.bySpan[a.spanID]) > 0 {
				v.add(3, "attempt %d of %s (%s) was reported unprocessed (%s at %s, reused %v) but the server executed it (faults %v)",
					a.resend+1, a.id, a.method, a.kind, a.stage, a.reused, faults(ledger.bySpan[a.spanID]))
			}
		}
	}
	for _, run := range ledger.runs {
		if !run.BodyOK {
			v.add(8, "the server executed %s (%s, span %s) with a body that is not the caller's", run.RequestID, run.Method, run.SpanID)
		}
	}
	v.report()
	logChaosSummary(t, seed, clients, calls, spans, ledger, v)
}

// chaosSeed is the flag's seed, CHAOS_SEED's, or a random one.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	if *chaosSeedFlag != 0 {
		return *chaosSeedFlag
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		return seed
	}
	return rand.Uint64()
}

// chaosClient is one transport under test, with its spans.
type chaosClient struct {
	prefix string // of its request ids
	name   string
	rt     *transport.Transport
	http   *http.Client
	rec    *tracetest.SpanRecorder
}

func newChaosClient(t *testing.T, srv *testserver.Chaos, seed uint64, prefix, name string, opts ...transport.Option) *chaosClient {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&chaosNetwork{rng: rand.New(rand.NewPCG(seed, uint64(prefix[0])))}).dial
	base.TLSClientConfig = &tls.Config{RootCAs: srv.Cert.Pool}
	base.ForceAttemptHTTP2 = true
	base.MaxIdleConnsPerHost = 16
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	rt := transport.New(append([]transport.Option{
		transport.WithBase(base),
		transport.WithTracerProvider(tp),
		transport.WithPropagators(propagation.TraceContext{}),
	}, opts...)...)
	t.Cleanup(rt.CloseIdleConnections)
	return &chaosClient{prefix: prefix, name: name, rt: rt, http: &http.Client{Transport: rt}, rec: rec}
}

// chaosNetwork is the network between a client and the backend, failing
// as networks do below HTTP: a dial refused, or a connection reset by the
// time the client first writes to it, so that not one request byte leaves.
// Both are attempts that provably never reached the server; invariant 3
// checks that the ledger agrees, and invariant 1 that a POST repeated
// after one still runs once.
type chaosNetwork struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// chaosNetworkFaults is the share of dials that fail, and the same share
// of connections whose first write is reset.
const chaosNetworkFaults = 0.05

func (n *chaosNetwork) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	draw := n.rng.Float64()
	n.mu.Unlock()
	if draw < chaosNetworkFaults {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	if err != nil || draw >= 2*chaosNetworkFaults {
		return c, err
	}
	return &resetOnWrite{Conn: c}, nil
}

// resetOnWrite is a connection the backend reset before the client wrote:
// its first write fails with nothing written, as the kernel reports it.
type resetOnWrite struct {
	net.Conn
	once sync.Once
}

func (c *resetOnWrite) Write(p []byte) (int, error) {
	err := error(nil)
	c.once.Do(func() {
		err = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
		_ = c.Conn.Close()
	})
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// chaosSpan is what one attempt's span says.
type chaosSpan struct {
	id          string // the request id, from url.full
	spanID      string
	method      string
	resend      int // 0 for the first attempt
	kind, stage string
	reused      bool
	unprocessed bool
	// hasUnprocessed reports that the span carried the attribute at all.
	hasUnprocessed bool
	status         int
}

// spans reads every ended attempt span.
func (c *chaosClient) spans() []chaosSpan {
	var out []chaosSpan
	for _, s := range c.rec.Ended() {
		cs := chaosSpan{spanID: s.SpanContext().SpanID().String(), method: s.Name()}
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "url.full":
				if u, err := url.Parse(kv.Value.AsString()); err == nil {
					cs.id = u.Query().Get("id")
				}
			case "http.request.resend_count":
				cs.resend = int(kv.Value.AsInt64())
			case "resilient.attempt.kind":
				cs.kind = kv.Value.AsString()
			case "resilient.attempt.stage":
				cs.stage = kv.Value.AsString()
			case "resilient.connection.reused":
				cs.reused = kv.Value.AsBool()
			case "resilient.attempt.unprocessed":
				cs.hasUnprocessed = kv.Value.Type() == attribute.BOOL
				cs.unprocessed = cs.hasUnprocessed && kv.Value.AsBool()
			case "http.response.status_code":
				cs.status = int(kv.Value.AsInt64())
			}
		}
		out = append(out, cs)
	}
	return out
}

// chaosCall is one request of the workload and what became of it.
type chaosCall struct {
	client  *chaosClient
	id      string
	method  string
	url     string
	body    string // "", "stream" (no GetBody), "getbody", "failing-stream", "failing-getbody"
	bodyLen int
	delay   time.Duration

	caller   *countedBody   // the request's own body
	mu       sync.Mutex     // guards copies
	copies   []*countedBody // what GetBody handed out
	failures atomic.Int32   // errCallerBody returned, all bodies together
	finished atomic.Bool

	status  int
	err     error
	elapsed time.Duration
}

var chaosMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost}

// planCall draws request i of client c: its method, body, server and
// start time.
func planCall(rng *rand.Rand, srv *testserver.Chaos, c *chaosClient, i int) *chaosCall {
	call := &chaosCall{
		client: c,
		id:     fmt.Sprintf("%s-%03d", c.prefix, i),
		method: chaosMethods[rng.IntN(len(chaosMethods))],
		delay:  time.Duration(rng.Int64N(int64(chaosSpread))),
	}
	base := srv.H1
	if rng.IntN(2) == 1 {
		base = srv.H2
	}
	call.url = base.String() + "/chaos?id=" + call.id
	if call.method != http.MethodGet {
		call.body = []string{"stream", "stream", "stream", "getbody", "getbody", "getbody", "failing-stream", "failing-getbody"}[rng.IntN(8)]
		call.bodyLen = 1 + rng.IntN(8<<10)
	}
	return call
}

// newBody returns a fresh body of the call, counted.
func (c *chaosCall) newBody() *countedBody {
	b := &countedBody{r: bytes.NewReader(testserver.ChaosBody(c.id, c.bodyLen)), failAt: -1, failures: &c.failures, closed: make(chan struct{})}
	if strings.HasPrefix(c.body, "failing") {
		b.failAt = c.bodyLen / 2
	}
	return b
}

// request builds the call's request.
func (c *chaosCall) request(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Request-Id", c.id)
	req.Header.Set("X-Body-Len", strconv.Itoa(c.bodyLen))
	if c.body == "" {
		return req, nil
	}
	c.caller = c.newBody()
	req.Body = c.caller
	if strings.HasSuffix(c.body, "getbody") {
		req.ContentLength = int64(c.bodyLen)
		req.GetBody = func() (io.ReadCloser, error) {
			b := c.newBody()
			c.mu.Lock()
			c.copies = append(c.copies, b)
			c.mu.Unlock()
			return b, nil
		}
	}
	// A stream has no GetBody and no length: it is sent chunked, and only
	// the transport's own buffer can replay it.
	return req, nil
}

// run waits for the call's start time, then sends it and reads the whole
// response.
func (c *chaosCall) run() {
	defer c.finished.Store(true)
	time.Sleep(c.delay) // the workload's shape: requests arrive over chaosSpread
	ctx, cancel := context.WithTimeout(context.Background(), chaosDeadline)
	defer cancel()
	start := time.Now()
	defer func() { c.elapsed = time.Since(start) }()
	req, err := c.request(ctx)
	if err != nil {
		c.err = err
		return
	}
	resp, err := c.client.http.Do(req)
	if err != nil {
		c.err = err
		return
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		c.err = fmt.Errorf("reading the response body: %w", err)
	}
}

// countedBody is a request body that counts its closes and can fail
// half-way. It hands out at most 1 KiB per Read, as a stream would.
type countedBody struct {
	r        io.Reader
	read     int
	failAt   int // -1: never
	failures *atomic.Int32
	closes   atomic.Int32
	closed   chan struct{} // closed by the first Close
}

func (b *countedBody) Read(p []byte) (int, error) {
	if b.failAt >= 0 && b.read >= b.failAt {
		b.failures.Add(1)
		return 0, errCallerBody
	}
	p = p[:min(len(p), 1<<10)]
	if b.failAt >= 0 {
		p = p[:min(len(p), b.failAt-b.read)]
	}
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countedBody) Close() error {
	if b.closes.Add(1) == 1 {
		close(b.closed)
	}
	return nil
}

// waitCloses waits, up to d in all, for every request body to be closed,
// and reports whether all were.
func waitCloses(calls []*chaosCall, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	for _, c := range calls {
		if c.caller == nil {
			continue
		}
		select {
		case <-c.caller.closed:
		case <-tm.C:
			return false
		}
	}
	return true
}

// chaosLedger indexes the backend's ledger.
type chaosLedger struct {
	arrivals []testserver.ChaosArrival
	runs     []testserver.ChaosRun
	byID     map[string][]testserver.ChaosRun
	bySpan   map[string][]testserver.ChaosRun
	byKey    map[string][]testserver.ChaosRun
	arrived  map[string][]testserver.ChaosArrival // by request id
}

func newChaosLedger(srv *testserver.Chaos) *chaosLedger {
	l := &chaosLedger{
		arrivals: srv.Arrivals(),
		runs:     srv.Runs(),
		byID:     map[string][]testserver.ChaosRun{},
		bySpan:   map[string][]testserver.ChaosRun{},
		byKey:    map[string][]testserver.ChaosRun{},
		arrived:  map[string][]testserver.ChaosArrival{},
	}
	for _, r := range l.runs {
		l.byID[r.RequestID] = append(l.byID[r.RequestID], r)
		l.bySpan[r.SpanID] = append(l.bySpan[r.SpanID], r)
		if r.IdempotencyKey != "" {
			l.byKey[r.IdempotencyKey] = append(l.byKey[r.IdempotencyKey], r)
		}
	}
	for _, a := range l.arrivals {
		l.arrived[a.RequestID] = append(l.arrived[a.RequestID], a)
	}
	return l
}

// strictKeys makes invariant 2 count every duplicate execution of a key,
// even those the StaleConnection hook is documented to allow.
var strictKeys = os.Getenv("CHAOS_STRICT_KEYS") == "1"

// check asserts the invariants that concern one call.
func (c *chaosCall) check(v *violations, l *chaosLedger, spans []chaosSpan, closesDone bool) {
	runs := l.byID[c.id]
	// 1. No POST twice under the default policy.
	if c.client.prefix == "d" && c.method == http.MethodPost && len(runs) > 1 {
		v.add(1, "POST %s (default policy) executed %d times; attempts %s; faults %v; error: %v",
			c.id, len(runs), attemptsString(spans), faults(runs), c.err)
	}
	// 2. One Idempotency-Key per opt-in POST, executed once.
	if c.client.prefix == "o" && c.method == http.MethodPost {
		keys := map[string]bool{}
		for _, a := range l.arrived[c.id] {
			keys[a.IdempotencyKey] = true
		}
		if len(keys) > 1 || keys[""] {
			v.add(2, "opt-in POST %s arrived with Idempotency-Keys %q; want one, the same on every attempt", c.id, slices.Sorted(maps.Keys(keys)))
		}
		for key := range keys {
			kr := l.byKey[key]
			if len(kr) <= 1 || key == "" {
				continue
			}
			tolerated := true
			for _, r := range kr[:len(kr)-1] {
				tolerated = tolerated && r.Reset
			}
			switch {
			case tolerated && !strictKeys:
				v.tolerated++
			default:
				v.add(2, "opt-in POST %s: Idempotency-Key %s executed %d times; attempts %s; faults %v; error: %v",
					c.id, key, len(kr), attemptsString(spans), faults(kr), c.err)
			}
		}
	}
	// 3. A final error that says unprocessed: its attempt never ran.
	if c.err != nil && errors.Is(c.err, transport.ErrUnprocessed) && len(spans) > 0 {
		last := spans[len(spans)-1]
		if r := l.bySpan[last.spanID]; len(r) > 0 {
			v.add(3, "%s %s failed with ErrUnprocessed but its last attempt (%s) was executed (faults %v): %v",
				c.method, c.id, last.spanID, faults(r), c.err)
		}
	}
	// 4. The caller's body is closed exactly once; a GetBody copy at most
	// once.
	if c.caller != nil {
		if n := c.caller.closes.Load(); n != 1 {
			v.add(4, "%s %s (%s body): the caller's body was closed %d times, want 1 (all bodies closed within %v: %v); attempts %s; error: %v",
				c.method, c.url, c.body, n, chaosCloseWait, closesDone, attemptsString(spans), c.err)
		}
		c.mu.Lock()
		for i, b := range c.copies {
			if n := b.closes.Load(); n > 1 {
				v.add(4, "%s %s: GetBody copy %d was closed %d times", c.method, c.id, i+1, n)
			}
		}
		c.mu.Unlock()
	}
	// 6. An answer or an error, by the deadline.
	if c.elapsed > chaosDeadline+chaosGrace {
		v.add(6, "%s %s returned after %v, past its deadline of %v", c.method, c.id, c.elapsed.Round(time.Millisecond), chaosDeadline)
	}
	if c.err == nil && c.status == 0 {
		v.add(6, "%s %s returned neither a response nor an error", c.method, c.id)
	}
	// 7. The caller's failure is final.
	if n := c.failures.Load(); n > 1 {
		v.add(7, "%s %s (%s body): the failed body was read again %d times: retried after the caller's own failure; attempts %s; error: %v",
			c.method, c.id, c.body, n-1, attemptsString(spans), c.err)
	}
	if c.failures.Load() > 0 && c.err == nil {
		v.add(7, "%s %s: its body failed, yet it succeeded with status %d", c.method, c.id, c.status)
	}
}

// attemptsString describes a call's attempts for a failure message.
func attemptsString(spans []chaosSpan) string {
	var b strings.Builder
	b.WriteString("[")
	for i, s := range spans {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case s.kind != "":
			fmt.Fprintf(&b, "%s: %s at %s, reused %v, unprocessed %v", s.spanID, s.kind, s.stage, s.reused, s.unprocessed)
		default:
			fmt.Fprintf(&b, "%s: status %d, reused %v", s.spanID, s.status, s.reused)
		}
	}
	b.WriteString("]")
	return b.String()
}

// faults lists what the backend did to each execution.
func faults(runs []testserver.ChaosRun) []string {
	out := make([]string, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.Proto+" "+r.SpanID+" "+r.Fault.String())
	}
	return out
}

// violations collects the broken invariants, to report a few of each with
// the seed.
type violations struct {
	t         *testing.T
	seed      uint64
	byRule    [9][]string
	tolerated int // invariant 2's duplicates after a reset the hook may repeat
}

func (v *violations) add(rule int, format string, args ...any) {
	v.byRule[rule] = append(v.byRule[rule], fmt.Sprintf(format, args...))
}

// report fails the test with the first violations of each invariant.
func (v *violations) report() {
	const shown = 5
	for rule, msgs := range v.byRule {
		for i, m := range msgs {
			if i == shown {
				v.t.Errorf("seed %d: invariant %d: ... and %d more", v.seed, rule, len(msgs)-shown)
				break
			}
			v.t.Errorf("seed %d: invariant %d: %s", v.seed, rule, m)
		}
	}
}

// logChaosSummary logs, per client, the requests by outcome, the attempts
// by kind, and the backend's arrivals and executions by fault: the
// evidence behind the invariants.
func logChaosSummary(t *testing.T, seed uint64, clients []*chaosClient, calls []*chaosCall, spans map[string][]chaosSpan, l *chaosLedger, v *violations) {
	t.Helper()
	for _, c := range clients {
		outcomes := map[string]int{}
		kinds := map[string]int{}
		attempts, retried, unprocessed, reused := 0, 0, 0, 0
		for _, call := range calls {
			if call.client != c {
				continue
			}
			outcomes[outcome(call)]++
			for _, s := range spans[call.id] {
				attempts++
				if s.resend > 0 {
					retried++
				}
				if s.unprocessed {
					unprocessed++
				}
				if s.reused {
					reused++
				}
				if s.kind != "" {
					kinds[s.kind+"@"+s.stage]++
				}
			}
		}
		t.Logf("seed %d, %s client: %d requests; outcomes %v", seed, c.name, chaosRequests, sortedCounts(outcomes))
		t.Logf("  %d attempts (%d retries, %d on reused connections, %d reported unprocessed; %d spans started, %d ended); failed attempts by kind@stage %v",
			attempts, retried, reused, unprocessed, len(c.rec.Started()), len(c.rec.Ended()), sortedCounts(kinds))
	}
	arrivals, runs := map[string]int{}, map[string]int{}
	for _, a := range l.arrivals {
		arrivals[a.Proto+" "+a.Fault.String()]++
	}
	for _, r := range l.runs {
		runs[r.Proto+" "+r.Fault.String()]++
	}
	copies, unclosed := 0, 0
	for _, call := range calls {
		call.mu.Lock()
		for _, b := range call.copies {
			copies++
			if b.closes.Load() == 0 {
				unclosed++
			}
		}
		call.mu.Unlock()
	}
	t.Logf("GetBody: %d bodies handed out, %d of them never closed (not asserted: x/net/http2 drops the body it took for a resend when the context ends during its backoff)", copies, unclosed)
	t.Logf("backend: %d arrivals by fault %v", len(l.arrivals), sortedCounts(arrivals))
	t.Logf("backend: %d executions by fault %v", len(l.runs), sortedCounts(runs))
	var broken []string
	for rule, msgs := range v.byRule {
		if len(msgs) > 0 {
			broken = append(broken, fmt.Sprintf("%d: %d", rule, len(msgs)))
		}
	}
	t.Logf("violations by invariant {%s}; opt-in duplicates after a reset (allowed by StaleConnection): %d",
		strings.Join(broken, ", "), v.tolerated)
}

// outcome names what the caller got.
func outcome(c *chaosCall) string {
	var ae *transport.AttemptError
	var re *retry.Error
	switch {
	case c.err == nil:
		return strconv.Itoa(c.status)
	case errors.Is(c.err, errCallerBody):
		return "error:caller_body"
	case errors.As(c.err, &re) && errors.As(c.err, &ae):
		return "error:" + ae.Kind.String() + "/" + re.Reason
	case errors.As(c.err, &ae):
		return "error:" + ae.Kind.String()
	}
	return "error:other"
}

func sortedCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
