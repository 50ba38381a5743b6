package faults_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestNeverAnswering is a backend that accepts a request and never
// answers it. Only the caller bounds the wait: the request ends when the
// caller's deadline (300ms) passes, or when the caller cancels once the
// backend has the request, and it is not tried again. The backends' idle
// timeout T is 200ms and ours is told so: its idle limit (160ms) passes
// while the request hangs, and must not touch a connection in use.
//
// Asserted for transport.New: the error matches context.DeadlineExceeded
// or context.Canceled and comes from an attempt that wrote the whole
// request and read nothing, the call returns within 2s of the deadline or
// the cancel, the backend ran the request id exactly once, and one
// connection was dialed. Besides the three servers, "raw" is a TCP
// listener that accepts and never reads nor writes: it keeps no ledger,
// the rest holds. The backends' handlers end with the client's
// connection; TestMain's goroutine check sees those of the Go server.
func TestNeverAnswering(t *testing.T) {
	const idle = 200 * time.Millisecond
	forEachServer(t, append(testserver.Names(), "raw"), func(t *testing.T, server string) {
		for _, method := range methods {
			for _, row := range hangRows {
				t.Run(method+"/"+row.name, func(t *testing.T) {
					t.Parallel()
					var shared hung
					if server != "raw" {
						shared = ledgered{testserver.Start(t, server, idle)}
					}
					for _, c := range []*client{bare(t), resilient(t, transport.WithBackendIdleTimeout(idle))} {
						t.Run(c.name, func(t *testing.T) {
							t.Parallel()
							b := shared
							if b == nil {
								b = listenSilent(t) // it cannot tell requests apart: one per side
							}
							id := row.name + "-" + c.name
							took, err := row.hang(t, c, b, method, id)
							runs, counted := b.runs(t, id)
							t.Logf("%s %s %s %s: %v after %v; ran %s, %d dials",
								server, method, row.name, c.name, err, took.Round(time.Millisecond), count(runs, counted), c.dials.Load())
							if c.name == "bare" {
								return // the bare transport's outcome is logged, not asserted
							}
							if !errors.Is(err, row.want) {
								t.Errorf("resilient: %v, want %v", err, row.want)
							}
							if ae := (*transport.AttemptError)(nil); !errors.As(err, &ae) || ae.Stage != retry.StageRequestWritten {
								t.Errorf("resilient: %v, want an attempt that wrote the whole request and got no answer", err)
							}
							if counted && runs != 1 {
								t.Errorf("resilient request ran %d times, want 1", runs)
							}
							if d := c.dials.Load(); d != 1 {
								t.Errorf("resilient dialed %d times, want 1", d)
							}
						})
					}
				})
			}
		}
	})
}

// hangDeadline is the caller's deadline; a call may return up to
// hangSlack after it, or after the cancel.
const (
	hangDeadline = 300 * time.Millisecond
	hangSlack    = 2 * time.Second
)

// hangRow is one way for the caller to end a request left hanging.
type hangRow struct {
	name string
	want error
	// start returns the request's context and, when the caller cancels,
	// its cancel func, called once the backend has the request.
	start func() (ctx context.Context, cancel context.CancelFunc, cancels bool)
}

var hangRows = []hangRow{
	{"deadline", context.DeadlineExceeded, func() (context.Context, context.CancelFunc, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
		return ctx, cancel, false
	}},
	{"cancel", context.Canceled, func() (context.Context, context.CancelFunc, bool) {
		ctx, cancel := context.WithCancel(context.Background())
		return ctx, cancel, true
	}},
}

// hang sends the request id to b, ends it the row's way and returns how
// long the call took and the error the caller got.
func (row hangRow) hang(t *testing.T, c *client, b hung, method, id string) (time.Duration, error) {
	t.Helper()
	ctx, cancel, cancels := row.start()
	defer cancel()
	// The cancel waits for the request to be written and for its bytes to
	// reach the backend (see silent.arrived): net/http reports it written
	// once it is buffered.
	wrote := make(chan struct{})
	var once sync.Once
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				once.Do(func() { close(wrote) })
			}
		},
	})
	var err error
	returned := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(returned)
		_, err = c.send(ctx, method, b.url(), id)
	}()
	due := start.Add(hangDeadline + hangSlack)
	if cancels {
		if !written(wrote, returned) || !b.arrived(t, id, returned) {
			<-returned
			t.Fatalf("%s: the backend never had the request (%v)", c.name, err)
		}
		cancel()
		due = time.Now().Add(hangSlack)
	}
	select {
	case <-returned:
	case <-time.After(time.Until(due)):
		t.Fatalf("%s: still waiting %v after the %s", c.name, time.Since(start).Round(time.Millisecond), row.name)
	}
	return time.Since(start), err
}

// written reports, within a few seconds, whether the request was written;
// it gives up early when stop is closed.
func written(wrote, stop <-chan struct{}) bool {
	limit := time.NewTimer(arrivalWait)
	defer limit.Stop()
	select {
	case <-wrote:
		return true
	case <-stop:
	case <-limit.C:
	}
	return false
}

// count shows a run count, or that the backend keeps none.
func count(runs int, counted bool) string {
	if !counted {
		return "uncounted"
	}
	return strconv.Itoa(runs)
}

// hung is a backend that takes requests and never answers them.
type hung interface {
	url() string
	// arrived reports, within a few seconds, whether the backend has the
	// request id; it gives up early when stop is closed.
	arrived(t *testing.T, id string, stop <-chan struct{}) bool
	// runs returns how many times the request id ran, once it ran at
	// all (see arrived); counted is false for a backend without a ledger.
	runs(t *testing.T, id string) (n int, counted bool)
}

// arrivalWait bounds how long arrived waits for a request.
const arrivalWait = 5 * time.Second

// ledgered is a testserver backend asked to hang (hang=1): it records the
// request in its ledger as it arrives.
type ledgered struct{ b *testserver.Backend }

func (l ledgered) url() string { return l.b.URL.String() + "/?hang=1" }

func (l ledgered) runs(t *testing.T, id string) (int, bool) {
	l.arrived(t, id, nil)
	return l.b.Runs(t, id), true
}

func (l ledgered) arrived(t *testing.T, id string, stop <-chan struct{}) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(arrivalWait)
	defer limit.Stop()
	for l.b.Runs(t, id) == 0 {
		select {
		case <-tick.C:
		case <-stop:
			return false
		case <-limit.C:
			return false
		}
	}
	return true
}

// silent is a TCP listener that accepts connections and never reads from
// or writes to them, like a wedged process. A request has arrived when
// its connection was accepted; silent cannot count runs.
type silent struct {
	ln       net.Listener
	accepted chan struct{} // closed at the first accepted connection
	done     chan struct{} // closed when the accept loop ends

	mu    sync.Mutex
	conns []net.Conn
}

// listenSilent starts a silent listener, closed with its connections when
// the test ends.
func listenSilent(t *testing.T) *silent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silent{ln: ln, accepted: make(chan struct{}), done: make(chan struct{})}
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *silent) serve() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if len(s.conns) == 0 {
			close(s.accepted)
		}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
}

func (s *silent) close() {
	_ = s.ln.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *silent) url() string { return "http://" + s.ln.Addr().String() + "/" }

func (s *silent) runs(*testing.T, string) (int, bool) { return 0, false }

// arrived waits for the first connection and for request bytes on it,
// which it peeks at without reading: net/http reports a request written
// once it is in its buffer, before the bytes leave.
func (s *silent) arrived(_ *testing.T, _ string, stop <-chan struct{}) bool {
	limit := time.NewTimer(arrivalWait)
	defer limit.Stop()
	select {
	case <-s.accepted:
	case <-stop:
		return false
	case <-limit.C:
		return false
	}
	s.mu.Lock()
	c := s.conns[0]
	s.mu.Unlock()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !hasBytes(c) {
		select {
		case <-tick.C:
		case <-stop:
			return false
		case <-limit.C:
			return false
		}
	}
	return true
}
