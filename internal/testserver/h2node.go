package testserver

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func nodeH2Backend(t testing.TB) *H2 {
	t.Helper()
	cert := SelfSigned(t)
	cmd := nodeCommand(t, "h2server.js", cert.CertFile, cert.KeyFile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	return fetchLedger(t, rt, url)
}
