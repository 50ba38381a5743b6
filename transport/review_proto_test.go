package transport_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/resilient-http/resilient/transport"
)

// TestReviewHTTP1StatusLineSaysHTTP2: FINDING: an HTTP/1 backend whose
// status line says "HTTP/2.0" (net/http accepts any HTTP/X.Y version and
// keeps the connection alive) makes its cleartext HTTP/1 connection count
// as HTTP/2 for good: no idle limit is armed on it, its Keep-Alive is
// ignored, and a later failure on it is reported as HTTP/2 with its byte
// counts hidden, so a request the connection never sent a byte of is
// headers_written, not nothing_written. A response's text is no evidence
// of the protocol; the bytes the client wrote are.
func TestReviewHTTP1StatusLineSaysHTTP2(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			if err := readRequest(br); err != nil {
				return
			}
			if n == 0 {
				if _, err := io.WriteString(c, "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
					return
				}
				continue
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			return
		}
	})
	tr := newTransport(t, transport.WithoutRetry())
	send := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("order"))
		return tr.RoundTrip(req)
	}
	resp, err := send()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the scenario needs net/http to take the status line's version: got %s", resp.Proto)
	}
	_, err = send()
	var ae *transport.AttemptError
	if !errors.As(err, &ae) || !ae.Reused {
		t.Fatalf("got %v; the scenario needs a failure on the reused connection", err)
	}
	if ae.HTTP2 || ae.BytesWritten == 0 {
		t.Fatalf("a failure on an HTTP/1 connection is reported HTTP2=%v with %d bytes written: %v", ae.HTTP2, ae.BytesWritten, err)
	}
}
