package latency_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/latency"
)

// echoServer echoes one line per connection, then closes it.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = io.WriteString(c, line)
			}()
		}
	}()
	return ln
}

func TestProxyDelaysBytesAndClose(t *testing.T) {
	const delay = 20 * time.Millisecond
	ln := echoServer(t)
	p, err := latency.Start(ln.Addr().String(), delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // the echo, then the server's FIN
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "ping\n" {
		t.Fatalf("got %q, want %q", got, "ping\n")
	}
	// One delay each way before the echo; the close follows it.
	if elapsed := time.Since(start); elapsed < 2*delay {
		t.Fatalf("round trip took %v, want at least %v", elapsed, 2*delay)
	}
}

func TestProxyCloseEndsRelays(t *testing.T) {
	ln := echoServer(t)
	p, err := latency.Start(ln.Addr().String(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil && !isReset(err) {
		t.Fatalf("read after Close: %v", err)
	}
}

func isReset(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && ne.Op == "read"
}
