package testserver

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func nodeH2Backend(t testing.TB) *H2 {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	cert := SelfSigned(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "h2server.js")
	cmd := exec.Command(node, script, cert.CertFile, cert.KeyFile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	out := bufio.NewReader(stdout)
	port := readLine(t, out, "its port")
	u := &url.URL{Scheme: "https", Host: "127.0.0.1:" + port}
	return &H2{
		Name: "node",
		URL:  u,
		Cert: cert,
		ledger: func(t testing.TB) map[string]int {
			return fetchH2Ledger(t, cert, u.JoinPath("ledger").String())
		},
		drain: func(t testing.TB) {
			t.Helper()
			if _, err := io.WriteString(stdin, "drain\n"); err != nil {
				t.Fatalf("drain node: %v", err)
			}
			if got := readLine(t, out, "that it drains"); got != "draining" {
				t.Fatalf("node answered %q to drain", got)
			}
		},
	}
}

// readLine reads the next line the Node.js process prints about what.
func readLine(t testing.TB, r *bufio.Reader, what string) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("node server did not print %s: %v", what, err)
	}
	return strings.TrimSpace(line)
}

// fetchH2Ledger reads a ledger over a connection of its own.
func fetchH2Ledger(t testing.TB, cert *Cert, url string) map[string]int {
	t.Helper()
	rt := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, ForceAttemptHTTP2: true}
	defer rt.CloseIdleConnections()
	c := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("read node ledger: %v", err)
	}
	defer resp.Body.Close()
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatalf("decode node ledger: %v", err)
	}
	return counts
}
