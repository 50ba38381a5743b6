package testserver

import (
	"fmt"
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
	return proxiedBackend(t, "nginx", func(upstream string) *process {
		return newNginx(t, idle, idle >= time.Second, fmt.Sprintf("proxy_pass http://%s;", upstream))
	})
}

func newNginx(t testing.TB, idle time.Duration, advertise bool, location string) *process {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			missing(t, "nginx")
		}
	}
	addr := freeAddr(t)
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
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// master_process off in the config: one process, so that killing it
	// drops every connection at once.
	n := &process{name: "nginx", bin: bin, dir: dir, addr: addr,
		args: []string{"-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log")}}
	n.start(t)
	t.Cleanup(n.stop)
	return n
}
