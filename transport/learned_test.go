package transport

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// lateCloser is a silent HTTP/1.1 backend whose close of an idle
// connection reaches the client late, as across a network: it stops
// serving a connection idle for dead (a request arriving then is reset,
// unrun), but the FIN reaches the client only at fin (in nanoseconds,
// changed between a test's phases). A client that reuses a connection
// between the two fails, whatever the scheduling: the backend measures
// idle time from its own write, before the client's. posts counts the
// POSTs it ran.
type lateCloser struct {
	dead   time.Duration
	fin    atomic.Int64
	posts  atomic.Int32
	resets atomic.Int32
}

func (s *lateCloser) start(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() { s.serve(c) })
		}
	})
	return &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/"}
}

func (s *lateCloser) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var wrote time.Time
	for {
		if !wrote.IsZero() {
			_ = c.SetReadDeadline(wrote.Add(time.Duration(s.fin.Load())))
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return // the FIN, at fin
		}
		if !wrote.IsZero() && time.Since(wrote) >= s.dead {
			s.resets.Add(1)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if req.Method == http.MethodPost {
			s.posts.Add(1)
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
		wrote = time.Now()
	}
}

// TestRestoredLimitSparesFirstContactFailure: a transport that learned a
// silent backend's limit by seeing it close an idle connection exports
// it; one started from the export closes its idle connection in time and
// its POST runs, where a fresh one reuses the connection and its POST
// fails.
func TestRestoredLimitSparesFirstContactFailure(t *testing.T) {
	// The close reaches the client at 700 ms, so the limit learned is
	// 560 ms; the backend stopped serving at 300 ms.
	s := &lateCloser{dead: 300 * time.Millisecond}
	s.fin.Store(int64(700 * time.Millisecond))
	u := s.start(t)

	first := New()
	t.Cleanup(first.CloseIdleConnections)
	if err := do(t, first, http.MethodGet, u); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for first.IdleLimit(u).Source != idle.SourceObserved {
		if time.Now().After(deadline) {
			t.Fatalf("the first transport learned no limit: %+v", first.IdleLimit(u))
		}
		time.Sleep(10 * time.Millisecond)
	}
	saved, err := json.Marshal(first.Learned())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export: %s", saved)

	var learned []idle.Learned
	if err := json.Unmarshal(saved, &learned); err != nil {
		t.Fatal(err)
	}
	restored := New()
	if err := restored.Restore(learned); err != nil {
		t.Fatal(err)
	}
	if l := restored.IdleLimit(u); l != first.IdleLimit(u) {
		t.Fatalf("restored limit %+v, learned %+v", l, first.IdleLimit(u))
	}
	// From now on the FIN comes too late for anyone: a request after a
	// second of idle fails on a reused connection, whatever the
	// scheduling, and the restored limit has 440 ms to close it first.
	s.fin.Store(int64(time.Hour))
	fresh := New()
	failures := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, rt := range map[string]*Transport{"restored": restored, "fresh": fresh} {
		t.Cleanup(rt.CloseIdleConnections)
		wg.Go(func() {
			if err := do(t, rt, http.MethodGet, u); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Second)
			err := do(t, rt, http.MethodPost, u)
			mu.Lock()
			failures[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := failures["restored"]; err != nil {
		t.Errorf("restored transport: POST failed: %v", err)
	}
	var ae *AttemptError
	if err := failures["fresh"]; !errors.As(err, &ae) || !ae.Reused {
		t.Errorf("fresh transport: POST %v, want the first-contact failure on the reused connection", err)
	}
	if got := s.posts.Load(); got != 1 {
		t.Errorf("%d POSTs ran, want the restored transport's alone", got)
	}
	if got := s.resets.Load(); got != 1 {
		t.Errorf("%d requests met a connection the backend had stopped serving, want the fresh transport's alone", got)
	}
}

func TestRestoreRejectsDamagedExport(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "api:8080"}
	now := time.Now()
	good := idle.Learned{Key: idle.Key(u), Evidence: []idle.Evidence{{Kind: idle.EvidenceClosed, Idle: 2 * time.Second, Seen: now, Expires: now.Add(time.Minute)}}}
	stale := idle.Learned{Key: "http://other:80", Evidence: []idle.Evidence{{Kind: idle.EvidenceClosed, Idle: time.Second, Seen: now.Add(-time.Hour), Expires: now.Add(-time.Minute)}}}
	rt := New()
	err := rt.Restore([]idle.Learned{good, stale})
	if !errors.Is(err, idle.ErrInvalidLearned) {
		t.Fatalf("Restore: %v", err)
	}
	if l := rt.IdleLimit(u); l.Source != idle.SourceNone {
		t.Fatalf("limit %+v applied from a rejected export", l)
	}
	if err := rt.Restore([]idle.Learned{good}); err != nil {
		t.Fatal(err)
	}
	if l := rt.IdleLimit(u); l.Source != idle.SourceObserved || l.Timeout != 1600*time.Millisecond {
		t.Fatalf("limit %+v, want 1.6s observed", l)
	}
}
