package idle_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

// TestServersCloseOnTime backs the margin of a measured close (see the
// package doc): real servers close an idle connection no sooner than
// their setting, with four connections idle at once, measured from the
// client's read of the response's last byte to the FIN (on an idle
// machine all within 3 ms after it; the test allows 20 ms before and
// 100 ms after, for a loaded one). A server that closed early, or whose
// closes spread wider than the 50 ms of the margin, would make a limit
// learned from one close unsafe for the next.
func TestServersCloseOnTime(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s")
	}
	const T = time.Second
	var all sync.WaitGroup
	for _, s := range testserver.IdleServers(T) {
		u := s.Start(t)
		all.Add(1)
		go func() {
			defer all.Done()
			var mu sync.Mutex
			var closes []time.Duration
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Staggered, so that each close comes while the others
					// sit idle.
					time.Sleep(time.Duration(w) * 70 * time.Millisecond)
					for range 3 {
						d, err := closeAfter(u)
						if err != nil {
							t.Errorf("%s: %v", s.Name, err)
							return
						}
						mu.Lock()
						closes = append(closes, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(closes) == 0 {
				return
			}
			slices.Sort(closes)
			first, last := closes[0], closes[len(closes)-1]
			t.Logf("%s (closes at %v): %d closes from %v to %v after the response", s.Name, s.Close, len(closes), first, last)
			if first < s.Close-20*time.Millisecond || last > s.Close+100*time.Millisecond {
				t.Errorf("%s closed idle connections from %v to %v, want within [%v, %v]", s.Name, first, last, s.Close-20*time.Millisecond, s.Close+100*time.Millisecond)
			}
		}()
	}
	all.Wait()
}

// closeAfter sends one request on a new connection and returns how long
// after the response's last byte the server closed the connection.
func closeAfter(u *url.URL) (time.Duration, error) {
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	done := time.Now()
	if _, err := br.ReadByte(); err == nil {
		return 0, errors.New("bytes on an idle connection")
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("no close within 10 s: %w", err)
		}
	}
	return time.Since(done), nil
}
