package faults_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// idleClose measures when the server at addr really closes an idle
// connection, which is not always what it was told: Node.js 20 waits one
// second past keepAliveTimeout.
func idleClose(t *testing.T, addr string) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(time.Minute))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection to %s: got %v, want the server's EOF", addr, err)
	}
	return time.Since(start)
}
