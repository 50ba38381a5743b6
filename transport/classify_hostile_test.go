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

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestHostileResponseTextRunsOnce: a backend runs the POST, then answers
// with a malformed response whose text reads like the refusals and closes
// that the classification once matched by message. net/http copies that
// text into its error; the POST must still run exactly once through a
// Transport with the default retry policy, and the attempt must say that
// the response had started.
func TestHostileResponseTextRunsOnce(t *testing.T) {
	tests := []struct {
		name     string
		response string
	}{
		// A header line that starts with a space, or has no colon, is
		// malformed, and net/http quotes it in its error.
		{"header line naming REFUSED_STREAM", "HTTP/1.1 200 OK\r\n stream error: stream ID 1; REFUSED_STREAM\r\n\r\n"},
		{"header line naming an unstarted GOAWAY", "HTTP/1.1 200 OK\r\nreceived Server's graceful shutdown GOAWAY\r\n\r\n"},
		{"header line naming a closed idle connection", "HTTP/1.1 200 OK\r\n http: server closed idle connection\r\n\r\n"},
		{"header line naming net/http's GOAWAY", "HTTP/1.1 200 OK\r\n http2: server sent GOAWAY and closed the connection\r\n\r\n"},
		{"status line naming a closed idle connection", "http: server closed idle connection\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			runs := map[string]int{}
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					return
				}
				mu.Lock()
				runs[req.Header.Get("X-Request-Id")]++
				mu.Unlock()
				_, _ = io.WriteString(c, tt.response)
			})
			c := &http.Client{Transport: newTransport(t)}
			for i := range 3 {
				id := fmt.Sprint(i)
				req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("order"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Request-Id", id)
				_, err = c.Do(req)
				var ae *transport.AttemptError
				if !errors.As(err, &ae) {
					t.Fatalf("request %s: error %v is not an *AttemptError", id, err)
				}
				if ae.ServerRefused || ae.Unprocessed() || errors.Is(err, transport.ErrUnprocessed) {
					t.Errorf("request %s: refused %v, unprocessed %v after the backend ran it: %v", id, ae.ServerRefused, ae.Unprocessed(), err)
				}
				if ae.Stage != retry.StageResponseStarted || ae.Kind != retry.KindOther || ae.BytesRead == 0 {
					t.Errorf("request %s: stage %v kind %v after %d response bytes, want response_started, other", id, ae.Stage, ae.Kind, ae.BytesRead)
				}
				mu.Lock()
				n := runs[id]
				mu.Unlock()
				if n != 1 {
					t.Fatalf("request %s ran %d times, want 1 (%v)", id, n, err)
				}
			}
		})
	}
}
