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
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s;
  keepalive_timeout %[2]dms%[3]s;
  server {
    listen %[4]s;
    location / { return 200 "ok"; }
  }
}
`, dir, idle.Milliseconds(), header, addr)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return &url.URL{Scheme: "http", Host: addr}
		}
		time.Sleep(20 * time.Millisecond) // waiting for an external process to listen
	}
	t.Fatalf("nginx did not listen on %s", addr)
	return nil
}
