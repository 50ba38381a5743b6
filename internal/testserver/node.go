package testserver

import (
	"bufio"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Node starts a Node.js http.Server whose keepAliveTimeout is idle and
// returns its URL. Node answers with Keep-Alive: timeout=N, N the idle
// timeout rounded down to whole seconds.
func Node(t testing.TB, idle time.Duration) *url.URL {
	t.Helper()
	return NodeBackend(t, idle).URL
}

// NodeBackend starts a Node.js http.Server whose keepAliveTimeout is idle.
// Its ledger lives in the Node process; Stop and Restart kill the process
// and keep the counts.
func NodeBackend(t testing.TB, idle time.Duration) *Backend {
	t.Helper()
	n := &nodeServer{idle: idle, past: newLedger()}
	port := n.start(t, "0")
	t.Cleanup(n.stop)
	return &Backend{
		Name: "node",
		URL:  &url.URL{Scheme: "http", Host: "127.0.0.1:" + port},
		ledger: func(t testing.TB) map[string]int {
			l := newLedger()
			l.add(n.past.snapshot())
			if n.cmd != nil {
				l.add(n.fetchLedger(t))
			}
			return l.snapshot()
		},
		stop: func(t testing.TB) {
			n.past.add(n.fetchLedger(t))
			n.stop()
		},
		start: func(t testing.TB) { n.start(t, port) },
	}
}

// nodeServer is one Node.js process at a time.
type nodeServer struct {
	idle time.Duration
	past *ledger // counts of the processes killed by Stop and Restart
	url  string
	cmd  *exec.Cmd
}

// start runs the script and returns the port it listens on.
func (n *nodeServer) start(t testing.TB, port string) string {
	t.Helper()
	cmd := nodeCommand(t, "server.js", strconv.FormatInt(n.idle.Milliseconds(), 10), port)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	n.cmd = cmd
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		n.stop()
		t.Fatalf("node server did not print its port: %v", err)
	}
	port = strings.TrimSpace(line)
	n.url = "http://127.0.0.1:" + port + "/ledger"
	return port
}

// stop kills the process: the kernel drops its connections at once.
func (n *nodeServer) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}

func (n *nodeServer) fetchLedger(t testing.TB) map[string]int {
	t.Helper()
	return fetchLedger(t, &http.Transport{DisableKeepAlives: true}, n.url)
}

// nodeCommand returns the command that runs testdata/script with args,
// its errors going to the test's stderr. Without node it fails the test
// under CI and skips it elsewhere.
func nodeCommand(t testing.TB, script string, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(node, append([]string{filepath.Join(filepath.Dir(file), "testdata", script)}, args...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI", what)
	}
	t.Skipf("%s not installed", what)
}
