// Command race shows the keep-alive race and what each transport makes of
// it. An embedded backend closes connections idle for longer than a short
// timeout and, like Go's own server, never says so; requests are sent
// spaced uniformly around that timeout, so some of them meet a connection
// the backend is closing. The same requests go through a bare
// http.Transport and through transport.New, and each side prints what it
// saw, failures grouped by class.
//
//	go run ./examples/race
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/resilient-http/resilient/transport"
)

func main() {
	var (
		idle     = flag.Duration("backend-idle", 300*time.Millisecond, "the backend's keep-alive idle timeout")
		requests = flag.Int("requests", 30, "requests per transport, alternating GET and POST")
		oneWay   = flag.Duration("latency", 10*time.Millisecond, "one-way network latency to the backend")
	)
	flag.Parse()
	if err := run(*idle, *requests, *oneWay); err != nil {
		log.Fatal(err)
	}
}

func run(idle time.Duration, requests int, oneWay time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// Loopback delivers the backend's FIN in microseconds; a real network
	// takes a while, and that is the window the race lives in.
	ln = lateListener{Listener: ln, delay: oneWay}
	backend := &http.Server{
		IdleTimeout:       idle,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, "ok\n")
		}),
	}
	go func() { _ = backend.Serve(ln) }()
	defer backend.Close()
	url := "http://" + ln.Addr().String() + "/"

	fmt.Printf("backend closes connections idle for %v; %d requests spaced %v±30ms; %v one-way latency\n\n",
		idle, requests, idle, oneWay)
	resilient := transport.New()
	sides := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare http.Transport", http.DefaultTransport.(*http.Transport).Clone()},
		{"transport.New()", resilient},
	}
	results := make([]map[string]int, len(sides))
	var wg sync.WaitGroup
	for i, side := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = send(&http.Client{Transport: side.rt}, url, requests, idle)
		}()
	}
	wg.Wait()
	for i, side := range sides {
		fmt.Printf("%s\n", side.name)
		classes := make([]string, 0, len(results[i]))
		for class := range results[i] {
			classes = append(classes, class)
		}
		sort.Strings(classes)
		for _, class := range classes {
			fmt.Printf("  %3d  %s\n", results[i][class], class)
		}
	}
	limit := resilient.IdleLimit(&neturl.URL{Scheme: "http", Host: ln.Addr().String()})
	fmt.Printf("\ntransport.New() learned an idle limit of %v for the backend (source: %s)\n",
		limit.Timeout.Round(time.Millisecond), limit.Source)
	return nil
}

// send issues the requests, spaced uniformly in [idle-30ms, idle+30ms], and
// counts the outcomes by class.
func send(client *http.Client, url string, requests int, idle time.Duration) map[string]int {
	seen := make(map[string]int)
	for i := range requests {
		method := http.MethodGet
		var body io.Reader
		if i%2 == 1 {
			method, body = http.MethodPost, strings.NewReader(`{"n":1}`)
		}
		req, _ := http.NewRequest(method, url, body)
		resp, err := client.Do(req)
		seen[method+" "+classify(resp, err)]++
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(idle - 30*time.Millisecond + time.Duration(rand.Int64N(int64(60*time.Millisecond)))) // the spacing under test
	}
	client.CloseIdleConnections()
	return seen
}

// classify names an outcome: the status, or the failure's class.
func classify(resp *http.Response, err error) string {
	var (
		ae *transport.AttemptError
		op *net.OpError
	)
	switch {
	case err == nil:
		return resp.Status
	case errors.As(err, &ae):
		conn := "new connection"
		if ae.Reused {
			conn = "reused connection"
		}
		return fmt.Sprintf("failed: %s at %s on a %s", ae.Kind, ae.Stage, conn)
	case errors.Is(err, io.EOF):
		return "failed: EOF"
	case errors.As(err, &op):
		return "failed: " + op.Err.Error() // without the addresses, so that failures group
	default:
		return "failed: " + err.Error()
	}
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
