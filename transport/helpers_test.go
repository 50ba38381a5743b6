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

// rawServer listens on 127.0.0.1 and runs handle on every connection it
// accepts; it stops, and waits for its handlers, when the test ends.
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one whole request, body included.
func readRequest(br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// newTransport returns a Transport whose idle connections are closed when
// the test ends. Classification tests pass WithoutRetry, so that the error
// they see is the one attempt they staged.
func newTransport(t *testing.T, opts ...transport.Option) *transport.Transport {
	t.Helper()
	rt := transport.New(opts...)
	t.Cleanup(rt.CloseIdleConnections)
	return rt
}

// getAndDrain sends a GET and reads the whole response, so that its connection
// goes back to the pool.
func getAndDrain(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("first response body: %v", err)
	}
	resp.Body.Close()
}

// post sends a POST whose body cannot be rewound, so that net/http never
// repeats it on its own.
func post(c *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, io.NopCloser(strings.NewReader("payload")))
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// want is what a classified attempt must say.
type want struct {
	stage  retry.Stage
	kind   retry.Kind
	reused bool
	is     []error
	isNot  []error
}

func checkAttempt(t *testing.T, err error, w want) *transport.AttemptError {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
	}
	if ae.Stage != w.stage || ae.Kind != w.kind || ae.Reused != w.reused {
		t.Errorf("got stage %v kind %v reused %v, want %v %v %v (%v)", ae.Stage, ae.Kind, ae.Reused, w.stage, w.kind, w.reused, err)
	}
	for _, s := range w.is {
		if !errors.Is(err, s) {
			t.Errorf("errors.Is(err, %v) = false, want true (%v)", s, err)
		}
	}
	for _, s := range w.isNot {
		if errors.Is(err, s) {
			t.Errorf("errors.Is(err, %v) = true, want false (%v)", s, err)
		}
	}
	return ae
}
