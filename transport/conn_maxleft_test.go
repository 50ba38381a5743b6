package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// closeNotifyingBase dials plain TCP and reports on closed when the base
// transport closes a connection, which it does after our wrapper has seen
// and judged the backend's close.
func closeNotifyingBase(closed chan<- struct{}) *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		c, err := d.DialContext(ctx, n, a)
		if err != nil {
			return nil, err
		}
		return &notifyClose{Conn: c, closed: closed}, nil
	}}
}

type notifyClose struct {
	net.Conn
	once   sync.Once
	closed chan<- struct{}
}

func (c *notifyClose) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.closed <- struct{}{} })
	return err
}

// countdownServer answers requests on one connection at a time: the
// first with header (when not empty), the others without, and closes
// the connection 20 ms after its third response, without Connection:
// close, as a server does whose request count ran out.
func countdownServer(t *testing.T, header string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for i := range 3 {
				req, err := http.ReadRequest(br)
				if err != nil {
					break
				}
				_, _ = io.Copy(io.Discard, req.Body)
				h := ""
				if i == 0 && header != "" {
					h = "Keep-Alive: " + header + "\r\n"
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\nok", h)
			}
			time.Sleep(20 * time.Millisecond)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	u, _ := url.Parse("http://" + ln.Addr().String() + "/")
	return u
}

// TestMaxLeftExplainsClose: Keep-Alive max belongs to the connection that
// carried it. A backend that said max=2 and then closes the connection
// after those two requests closed it for its count, not its idle
// timeout: the close teaches no idle limit, while the same close without
// the count does.
func TestMaxLeftExplainsClose(t *testing.T) {
	tests := []struct {
		name      string
		header    string
		wantLimit time.Duration
		wantLeft  int
	}{
		{name: "max counted down to zero", header: "timeout=30, max=2", wantLimit: 24 * time.Second, wantLeft: 0},
		{name: "no max: an idle close", header: "timeout=30", wantLimit: idle.DefaultFloor, wantLeft: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := countdownServer(t, tt.header)
			closed := make(chan struct{}, 1)
			rt := New(WithBase(closeNotifyingBase(closed)))
			t.Cleanup(rt.CloseIdleConnections)
			var lefts []int
			for i := range 3 {
				resp, err := rt.RoundTrip(mustGet(t, u))
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				c := resp.Body.(*attemptBody).a.Load().conn // before the attempt is recycled at the body's end
				_, _ = io.Copy(io.Discard, resp.Body)
				lefts = append(lefts, c.maxRequestsLeft())
				resp.Body.Close()
			}
			<-closed
			if lefts[2] != tt.wantLeft {
				t.Errorf("requests left after each response: %v, want the last %d", lefts, tt.wantLeft)
			}
			if l := rt.IdleLimit(u); l.Timeout != tt.wantLimit {
				t.Errorf("limit %v from %v, want %v", l.Timeout, l.Source, tt.wantLimit)
			}
		})
	}
}

func mustGet(t *testing.T, u *url.URL) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
