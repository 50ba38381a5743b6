package faults_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
)

// everyFifth is a backend that resets (RST) every fifth request it
// receives and answers the others 200, closing the connection after each
// answer: every attempt runs on a new connection, so no failure is a stale
// pooled one and every retry costs budget. Total counts the requests.
type everyFifth struct {
	url   string
	total func(t *testing.T) int
}

// goEveryFifth is everyFifth as a Go http.Server.
func goEveryFifth(t *testing.T) everyFifth {
	t.Helper()
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
			return
		}
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "ok")
	})}
	srv.SetKeepAlivesEnabled(false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return everyFifth{url: "http://" + ln.Addr().String() + "/", total: func(*testing.T) int { return int(n.Load()) }}
}

// nodeEveryFifthScript is everyFifth in Node.js; GET /count answers the
// count and is not counted.
const nodeEveryFifthScript = `
const http = require('http');
let n = 0;
const s = http.createServer((req, res) => {
  if (req.url === '/count') { res.setHeader('Connection', 'close'); res.end(String(n)); return; }
  n++;
  if (n % 5 === 0) { req.socket.resetAndDestroy(); return; }
  res.setHeader('Connection', 'close');
  res.end('ok');
});
s.keepAliveTimeout = 1;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`

// nodeEveryFifth is everyFifth as a Node.js server.
func nodeEveryFifth(t *testing.T) everyFifth {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI")
		}
		t.Skip("node not installed")
	}
	cmd := exec.Command(node, "-e", nodeEveryFifthScript)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("node did not print its port: %v", err)
	}
	base := "http://127.0.0.1:" + strings.TrimSpace(line)
	return everyFifth{url: base + "/", total: func(t *testing.T) int {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(base + "/count")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		n, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}}
}

// TestBudgetLowTraffic: a backend that resets every fifth request, sent
// GETs one at a time, paced below the budget's floor (8 a second) and
// then as fast as they go. Every reset is a retryable failure on a new
// connection, which costs budget: the default budget must retry every one
// of them, so every GET succeeds. The old budget (10 tokens, 0.1 back per
// success, denied below half) failed 40 of 300 unpaced GETs.
//
// Asserted: no GET fails; the backend saw the GETs plus one retry per
// reset (a quarter of the GETs, give or take one).
func TestBudgetLowTraffic(t *testing.T) {
	servers := map[string]func(*testing.T) everyFifth{"go": goEveryFifth, "node": nodeEveryFifth}
	runs := []struct {
		name     string
		requests int
		every    time.Duration // between the starts of two GETs; zero: none
	}{
		{"8 per second", 24, time.Second / 8},
		{"unpaced", 300, 0},
	}
	forEachServer(t, []string{"go", "node"}, func(t *testing.T, server string) {
		for _, run := range runs {
			t.Run(run.name, func(t *testing.T) {
				b := servers[server](t)
				c := resilient(t)
				var seen tally
				start := time.Now()
				for i := range run.requests {
					if run.every > 0 {
						time.Sleep(time.Until(start.Add(time.Duration(i) * run.every)))
					}
					seen.add(c.send(context.Background(), http.MethodGet, b.url, strconv.Itoa(i)))
				}
				took := time.Since(start)
				total := b.total(t)
				exhausted := 0
				for _, err := range seen.errors {
					if errors.Is(err, retry.ErrBudgetExhausted) {
						exhausted++
					}
				}
				t.Logf("%s %s: %d GETs in %s, backend saw %d; %v, %d budget_exhausted",
					server, run.name, run.requests, took.Round(time.Millisecond), total, &seen, exhausted)
				if seen.failed() != 0 {
					t.Errorf("%v; want every GET to succeed", &seen)
				}
				// The backend's count goes 4 answers, 1 reset: n GETs need n/4 retries.
				if want := run.requests + run.requests/4; total < want-1 || total > want+1 {
					t.Errorf("backend saw %d requests, want %d (one retry per reset)", total, want)
				}
			})
		}
	})
}

// TestBudgetAnsweredRetriesRefill is issue 12's fifth point: a streamed
// PUT (no GetBody) whose first attempt is always reset and whose retry is
// answered. Each retry costs budget; each answer returns it, so the
// backend, which answers every request, is never starved. Without the
// refund, 50 PUTs within a second would exhaust the floor's 10 and the
// reserve's 0.2 per request.
//
// Asserted: every PUT succeeds in two attempts; the backend saw 100.
func TestBudgetAnsweredRetriesRefill(t *testing.T) {
	var mu sync.Mutex
	seenIDs := map[string]bool{}
	var total atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-Request-Id")
		mu.Lock()
		first := !seenIDs[id]
		seenIDs[id] = true
		mu.Unlock()
		if first {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
			return
		}
		_, _ = io.WriteString(w, "ok")
	})}
	srv.SetKeepAlivesEnabled(false) // every attempt on a new connection: no retry is free
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })

	c := resilient(t)
	const puts = 50
	failed := 0
	start := time.Now()
	for i := range puts {
		body := io.NopCloser(strings.NewReader("payload " + strconv.Itoa(i))) // no GetBody: streamed
		req, _ := http.NewRequest(http.MethodPut, "http://"+ln.Addr().String()+"/", body)
		req.Header.Set("X-Request-Id", strconv.Itoa(i))
		resp, err := c.http.Do(req)
		if err != nil {
			failed++
			t.Errorf("PUT %d: %v", i, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t.Logf("%d streamed PUTs, first attempts reset, in %s: backend saw %d, %d failed",
		puts, time.Since(start).Round(time.Millisecond), total.Load(), failed)
	if got := total.Load(); got != 2*puts {
		t.Errorf("backend saw %d requests, want %d", got, 2*puts)
	}
}
