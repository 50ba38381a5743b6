package transport_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// ledgerServer is a raw HTTP/1.1 backend on 127.0.0.1 that reproduces the
// seed race deterministically: a request arriving on a connection that has
// been idle longer than idle is killed with an RST, either after the
// request was read and executed (the response is lost) or before it was
// read (nothing ran). The ledger counts executions per X-Request-Id; a
// request whose Idempotency-Key was seen before is answered without
// running again, as draft-ietf-httpapi-idempotency-key-header asks.
type ledgerServer struct {
	ln          net.Listener
	idle        time.Duration
	killAfterRd bool

	mu       sync.Mutex
	runs     map[string]int
	keys     map[string]bool
	arrivals map[string]int // every request read, key or not
	kills    int
	wg       sync.WaitGroup
	conns    sync.WaitGroup // one per connection being served
}

func newLedgerServer(t *testing.T, idle time.Duration, killAfterRead bool) *ledgerServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ledgerServer{ln: ln, idle: idle, killAfterRd: killAfterRead, runs: map[string]int{}, keys: map[string]bool{}, arrivals: map[string]int{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *ledgerServer) url() string { return "http://" + s.ln.Addr().String() + "/" }

func (s *ledgerServer) accept() {
	defer s.wg.Done()
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		s.conns.Wait()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		open[c] = true
		mu.Unlock()
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.serve(c.(*net.TCPConn))
			mu.Lock()
			delete(open, c)
			mu.Unlock()
		}()
	}
}

func (s *ledgerServer) serve(c *net.TCPConn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var lastDone time.Time
	for {
		if _, err := br.Peek(1); err != nil {
			return
		}
		stale := !lastDone.IsZero() && time.Since(lastDone) > s.idle
		if stale && !s.killAfterRd {
			s.kill(c)
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.execute(req)
		if stale {
			s.kill(c)
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
		lastDone = time.Now()
	}
}

// execute runs the request once per Idempotency-Key and records it.
func (s *ledgerServer) execute(req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals[req.Header.Get("X-Request-Id")]++
	if k := req.Header.Get("Idempotency-Key"); k != "" {
		if s.keys[k] {
			return
		}
		s.keys[k] = true
	}
	s.runs[req.Header.Get("X-Request-Id")]++
}

func (s *ledgerServer) kill(c *net.TCPConn) {
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
	_ = c.SetLinger(0)
	c.Close()
}

// settle waits until the server has served every connection to its end,
// which the client must have closed: all it was sent is in the ledger.
func (s *ledgerServer) settle(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still serves connections 10s after the client closed them")
	}
}

// arrived returns how many times a request with this X-Request-Id reached
// the application, de-duplicated by Idempotency-Key or not.
func (s *ledgerServer) arrived(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arrivals[id]
}

// ledger returns how many request ids ran, how many ran more than once,
// and the kills.
func (s *ledgerServer) ledger() (executed, duplicates, kills int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	executed = len(s.runs)
	for _, n := range s.runs {
		if n > 1 {
			duplicates++
		}
	}
	return executed, duplicates, s.kills
}

// TestLedgerSeedRace sends POSTs spaced past the backend's idle limit, so
// every reuse of a pooled connection hits the race.
func TestLedgerSeedRace(t *testing.T) {
	const requests = 8
	const idle = 20 * time.Millisecond
	const spacing = 3 * idle
	tests := []struct {
		name          string
		killAfterRead bool
		opts          []transport.Option
		wantFailures  bool
	}{
		{"default/killed after read", true, nil, true},
		{"default/killed before read", false, nil, true},
		{"opt-in/killed after read", true, []transport.Option{transport.WithRetry(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})}, false},
		{"opt-in/killed before read", false, []transport.Option{transport.WithRetry(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newLedgerServer(t, idle, tt.killAfterRead)
			tr := transport.New(tt.opts...)
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			failures := 0
			for i := range requests {
				if i > 0 {
					time.Sleep(spacing) // the scenario: the connection idles past the limit
				}
				req, _ := http.NewRequest("POST", srv.url(), strings.NewReader("order"))
				req.Header.Set("X-Request-Id", fmt.Sprint(i))
				resp, err := client.Do(req)
				if err != nil {
					failures++
					var ae *transport.AttemptError
					if !errors.As(err, &ae) || !ae.Reused {
						t.Fatalf("request %d: want a classified failure on a reused connection, got %v", i, err)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			executed, dups, kills := srv.ledger()
			t.Logf("requests %d, client failures %d, server kills %d, executed %d, executed twice %d", requests, failures, kills, executed, dups)
			if dups != 0 {
				t.Fatalf("%d POSTs executed twice", dups)
			}
			if kills == 0 {
				t.Fatal("the race never happened; the scenario is broken")
			}
			if !tt.wantFailures && executed != requests {
				t.Fatalf("%d of %d POSTs executed, want all", executed, requests)
			}
			if tt.wantFailures != (failures > 0) {
				t.Fatalf("failures = %d, want failures: %v", failures, tt.wantFailures)
			}
		})
	}
}
