package transport_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/transport"
)

// TestAttemptNotReusedBeforeItsRequestWasWritten: a server that answers
// with Connection: close before it reads a long body makes net/http hand
// the response body's end to the caller at once, while its writer still
// sends the body, and runs WroteRequest later. The attempt must not be
// reused until then: the race detector sees the hook writing into a
// reused attempt otherwise.
func TestAttemptNotReusedBeforeItsRequestWasWritten(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		// Read the body slowly, so that the client's writer is still at
		// it when the client has read the response.
		buf := make([]byte, 64<<10)
		for range 8 {
			if _, err := br.Read(buf); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	rt := transport.New()
	t.Cleanup(rt.CloseIdleConnections)
	payload := bytes.Repeat([]byte("x"), 8<<20)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				req, _ := http.NewRequest(http.MethodPut, "http://"+addr, bytes.NewReader(payload))
				resp, err := rt.RoundTrip(req)
				if err != nil {
					continue // the server's close may win over its answer
				}
				_, _ = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
}
