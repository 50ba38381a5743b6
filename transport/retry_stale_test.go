package transport_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// halfAnswerServer serves the first request of every connection, and runs
// the second one too but answers it with only the start of a response
// before it resets (or closes) the connection. It ignores Idempotency-Key, as a
// hostile server would, and counts every request it ran by X-Request-Id.
type halfAnswerServer struct {
	addr string

	mu   sync.Mutex
	runs map[string]int
}

func newHalfAnswerServer(t *testing.T, start string, reset bool) *halfAnswerServer {
	s := &halfAnswerServer{runs: map[string]int{}}
	s.addr = rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			s.mu.Lock()
			s.runs[req.Header.Get("X-Request-Id")]++
			s.mu.Unlock()
			if n == 0 {
				if _, err := io.WriteString(c, okResponse); err != nil {
					return
				}
				continue
			}
			_, _ = io.WriteString(c, start)
			if reset {
				_ = c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			return
		}
	})
	return s
}

func (s *halfAnswerServer) ran(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[id]
}

// TestStaleConnectionRefusesAnsweredRequest: under the opt-in hook for
// stale connections, a POST on a reused connection whose server sent the
// start of a response before it hung up had been read and may have run: it
// is not sent again. A hang-up at a line's end is a reset or EOF to the
// classifier, as a stale connection's is; only the response bytes tell
// the two apart.
func TestStaleConnectionRefusesAnsweredRequest(t *testing.T) {
	const headStart = "HTTP/1.1 200 OK\r\nX-Partial: 1\r\n"
	tests := []struct {
		name  string
		start string // what the server answers before it hangs up
		reset bool
	}{
		{name: "status line, then reset", start: headStart, reset: true},
		{name: "status line, then closed", start: headStart, reset: false},
		{name: "half a status line, then reset", start: "HTTP/1.1 2", reset: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newHalfAnswerServer(t, tt.start, tt.reset)
			tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{Hook: retry.StaleConnection, IdempotencyKey: true})))
			url := "http://" + srv.addr + "/"
			send := func(id string) (*http.Response, error) {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("order"))
				req.Header.Set("X-Request-Id", id)
				return tr.RoundTrip(req)
			}
			resp, err := send("warm")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()

			_, err = send("answered")
			tr.CloseIdleConnections()
			if n := srv.ran("answered"); n != 1 {
				t.Fatalf("the POST ran %d times, want once (%v)", n, err)
			}
			var ae *transport.AttemptError
			if !errors.As(err, &ae) || !ae.Reused || ae.Stage != retry.StageResponseStarted {
				t.Fatalf("got %v; the scenario needs a reused connection that failed after response bytes", err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, retry.ErrPolicy) {
				t.Fatalf("got %v; want the hook's refusal after one attempt", err)
			}
		})
	}
}
