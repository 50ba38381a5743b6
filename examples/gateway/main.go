// Command gateway runs the seed scenario end to end: an
// httputil.ReverseProxy in front of a backend whose keep-alive connections
// close after 2 s idle, driven by clients that send POSTs spaced around
// 2 s. One gateway uses a bare http.Transport with a gateway's 600 s idle
// timeout; the other uses transport.New. It prints what the clients saw
// through each, and how many times the backend executed each POST. The
// resilient gateway's live view (transport.Transport.Handler) is served
// on a debug address of its own, as net/http/pprof would be; its URL is
// printed first, and what it shows at the end last.
//
//	go run ./examples/gateway
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

func main() {
	var (
		idle     = flag.Duration("backend-idle", 2*time.Second, "the backend's keep-alive idle timeout")
		lanes    = flag.Int("lanes", 4, "clients sending in parallel through each gateway")
		requests = flag.Int("requests", 6, "POSTs per client")
		rtt      = flag.Duration("latency", 20*time.Millisecond, "one-way latency from the backend to the gateway")
	)
	flag.Parse()
	if err := run(*idle, *lanes, *requests, *rtt); err != nil {
		log.Fatal(err)
	}
}

// gatewayTransports are the two transports under comparison, as a gateway
// would configure them.
func gatewayTransports() (bare http.RoundTripper, resilient *transport.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.IdleConnTimeout = 600 * time.Second
	// A gateway forwards POSTs it cannot see inside; it opts in to
	// retrying them on a stale connection (the classic non_idempotent
	// switch), and stamps one Idempotency-Key on every attempt so that the
	// backend could de-duplicate should one ever run twice.
	return base.Clone(), transport.New(
		transport.WithBase(base),
		transport.WithRetry(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true}),
	)
}

func run(idle time.Duration, lanes, requests int, oneWay time.Duration) error {
	ledger := &ledger{seen: make(map[string]int)}
	backend, err := startBackend(idle, oneWay, ledger)
	if err != nil {
		return err
	}
	defer backend.Close()
	target := &url.URL{Scheme: "http", Host: backend.Addr().String()}
	bare, resilient := gatewayTransports()

	// The live view, where an operator would look: a debug listener of
	// its own, never the proxied one.
	mux := http.NewServeMux()
	mux.Handle("/debug/resilient", resilient.Handler())
	debug, err := serve(mux, 0, 0)
	if err != nil {
		return err
	}
	defer debug.Close()
	view := "http://" + debug.Addr().String() + "/debug/resilient"
	fmt.Printf("live view of transport.New: %s\n", view)

	fmt.Printf("backend idle timeout %v, gateway idle timeout 600s, %d clients x %d POSTs spaced %v±30ms\n\n",
		idle, lanes, requests, idle)
	results := map[string]*tally{"bare http.Transport": {}, "transport.New": {}}
	var wg sync.WaitGroup
	for name, rt := range map[string]http.RoundTripper{"bare http.Transport": bare, "transport.New": resilient} {
		gw, err := startGateway(target, rt)
		if err != nil {
			return err
		}
		defer gw.Close()
		for lane := range lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				drive(gw.Addr().String(), fmt.Sprintf("%s-%d", name, lane), requests, idle, results[name])
			}()
		}
	}
	wg.Wait()
	for _, name := range []string{"bare http.Transport", "transport.New"} {
		t := results[name]
		fmt.Printf("%-20s  sent %3d  ok %3d  502/503 %3d  executed twice %d\n",
			name, t.sent.Load(), t.ok.Load(), t.failed.Load(), ledger.twice(name))
	}
	return showView(view)
}

// showView prints what the live view shows, read as JSON.
func showView(view string) error {
	resp, err := http.Get(view + "?format=json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var v struct {
		Backends []struct {
			Key          string        `json:"key"`
			Limit        time.Duration `json:"limit"`
			Source       string        `json:"source"`
			BudgetTokens float64       `json:"budget_tokens"`
		} `json:"backends"`
		Failures []struct{ Stage, Kind string } `json:"failures"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return fmt.Errorf("live view: %w", err)
	}
	fmt.Printf("\nlive view: %d failed attempts recorded\n", len(v.Failures))
	for _, b := range v.Backends {
		fmt.Printf("  %s  idle limit %v (%s)  retry budget %.1f tokens\n",
			b.Key, b.Limit.Round(time.Millisecond), b.Source, b.BudgetTokens)
	}
	return nil
}

// tally counts what one side's clients saw.
type tally struct{ sent, ok, failed atomic.Int64 }

// drive sends POSTs through a gateway, spaced uniformly in [idle-30ms,
// idle+30ms], each with a unique request id.
func drive(gateway, lane string, requests int, idle time.Duration, t *tally) {
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range requests {
		id := lane + "-" + strconv.Itoa(i)
		req, _ := http.NewRequest(http.MethodPost, "http://"+gateway+"/orders", strings.NewReader(`{"item":42}`))
		req.Header.Set("X-Request-Id", id)
		t.sent.Add(1)
		resp, err := client.Do(req)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "client: %v\n", err)
			t.failed.Add(1)
		case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable:
			t.failed.Add(1)
		default:
			t.ok.Add(1)
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		jitter := time.Duration(rand.Int64N(int64(60 * time.Millisecond)))
		time.Sleep(idle - 30*time.Millisecond + jitter) // the spacing under test
	}
}

// ledger counts executions per request id on the backend.
type ledger struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *ledger) record(id string) {
	l.mu.Lock()
	l.seen[id]++
	l.mu.Unlock()
}

// twice counts the ids with the given prefix that ran more than once.
func (l *ledger) twice(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, c := range l.seen {
		if strings.HasPrefix(id, prefix) && c > 1 {
			n++
		}
	}
	return n
}

// server is a running http.Server and its listener.
type server struct {
	*http.Server
	ln net.Listener
}

func (s *server) Addr() net.Addr { return s.ln.Addr() }

func serve(h http.Handler, idle, oneWay time.Duration) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if oneWay > 0 {
		// Loopback delivers a close in microseconds; across a network the
		// FIN takes as long to reach the gateway as it would in production.
		ln = lateListener{Listener: ln, delay: oneWay}
	}
	s := &server{Server: &http.Server{Handler: h, IdleTimeout: idle, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() { _ = s.Serve(ln) }()
	return s, nil
}

// startBackend is a Go server that, like many, closes connections idle
// for longer than idle and says nothing about it in its responses.
func startBackend(idle, oneWay time.Duration, l *ledger) (*server, error) {
	return serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		l.record(r.Header.Get("X-Request-Id"))
		_, _ = io.WriteString(w, "created\n")
	}), idle, oneWay)
}

// startGateway is a reverse proxy to target over rt.
func startGateway(target *url.URL, rt http.RoundTripper) (*server, error) {
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: rt,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	return serve(proxy, 0, 0)
}

// lateListener gives loopback the delay of a real network in the one
// direction the race needs: what the backend writes, its close included,
// reaches the client only delay later. The backend's idle clock thus
// starts while its last response is still on the way, and a request sent
// just before the close arrives arrives at a backend that no longer reads
// it, which then resets the connection, as across a network.
type lateListener struct {
	net.Listener
	delay time.Duration
}

func (l lateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &lateConn{Conn: c, delay: l.delay, out: make(chan lateWrite, 64)}
	go lc.deliver()
	return lc, nil
}

type lateConn struct {
	net.Conn
	delay  time.Duration
	out    chan lateWrite
	mu     sync.Mutex
	closed bool
}

// lateWrite is bytes to deliver at a time; nil bytes close the connection.
type lateWrite struct {
	at   time.Time
	data []byte
}

func (c *lateConn) send(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.closed = data == nil
	c.out <- lateWrite{at: time.Now().Add(c.delay), data: data}
	return nil
}

func (c *lateConn) Write(p []byte) (int, error) {
	if err := c.send(bytes.Clone(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *lateConn) Close() error {
	_ = c.send(nil)
	return nil
}

func (c *lateConn) deliver() {
	for w := range c.out {
		time.Sleep(time.Until(w.at))
		if w.data == nil {
			_ = c.Conn.Close()
			return
		}
		_, _ = c.Conn.Write(w.data)
	}
}
