package testserver

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Nginx starts nginx with keepalive_timeout idle (millisecond precision)
// answering 200 to everything, and returns its URL. With advertise, the
// header parameter of keepalive_timeout makes nginx send Keep-Alive:
// timeout=N, rounded down to whole seconds.
func Nginx(t testing.TB, idle time.Duration, advertise bool) *url.URL {
	t.Helper()
	n := newNginx(t, idle, advertise, `return 200 "ok";`)
	return &url.URL{Scheme: "http", Host: n.addr}
}

// NginxBackend starts nginx as the reverse proxy in front of a Go upstream,
// the way nginx usually fronts an application: nginx owns the client
// connections and their keepalive_timeout idle (advertised in Keep-Alive
// when idle is a second or more), the upstream keeps the ledger and
// serves the behaviours. A reset asked of the upstream reaches the client
// as nginx's 502, so reset scenarios need GoBackend or NodeBackend.
// Stop and Restart kill nginx; the upstream keeps running.
func NginxBackend(t testing.TB, idle time.Duration) *Backend {
	t.Helper()
	l := newLedger()
	up := &goServer{ledger: l}
	up.start(t, "127.0.0.1:0")
	t.Cleanup(up.stop)
	n := newNginx(t, idle, idle >= time.Second, fmt.Sprintf("proxy_pass http://%s;", up.addr))
	return &Backend{
		Name:   "nginx",
		URL:    &url.URL{Scheme: "http", Host: n.addr},
		ledger: func(testing.TB) map[string]int { return l.snapshot() },
		stop:   func(testing.TB) { n.stop() },
		start:  n.start,
	}
}

// nginxServer is one single-process nginx at a time, so that killing it
// drops every connection at once.
type nginxServer struct {
	bin, conf, dir, addr string
	cmd                  *exec.Cmd
}

func newNginx(t testing.TB, idle time.Duration, advertise bool, location string) *nginxServer {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			missing(t, "nginx")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	header := ""
	if advertise {
		header = fmt.Sprintf(" %ds", int(idle/time.Second))
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  keepalive_timeout %[2]dms%[3]s;
  server {
    listen %[4]s;
    location / { %[5]s }
  }
}
`, dir, idle.Milliseconds(), header, addr, location)
	n := &nginxServer{bin: bin, conf: filepath.Join(dir, "nginx.conf"), dir: dir, addr: addr}
	if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	t.Cleanup(n.stop)
	return n
}

// start runs nginx and returns when it accepts connections.
func (n *nginxServer) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(n.bin, "-c", n.conf, "-p", n.dir, "-e", filepath.Join(n.dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	n.cmd = cmd
	for range 250 {
		c, err := net.Dial("tcp", n.addr)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond) // waiting for an external process to listen
	}
	n.stop()
	t.Fatalf("nginx did not listen on %s; see %s/error.log", n.addr, n.dir)
}

// stop kills nginx: the kernel drops its connections at once.
func (n *nginxServer) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}
