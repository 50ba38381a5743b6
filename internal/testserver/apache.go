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

// ApacheBackend starts Apache httpd (event MPM) as the reverse proxy in
// front of a Go upstream, the way httpd usually fronts an application:
// httpd owns the client connections and their KeepAliveTimeout idle
// (millisecond precision, as in "KeepAliveTimeout 300ms"), with
// MaxKeepAliveRequests maxRequests (0: unlimited); the upstream keeps the
// ledger and serves the behaviours. Apache advertises Keep-Alive:
// timeout=N, max=M only to a request that says Connection: keep-alive, N
// being the timeout in whole seconds rounded down. A reset asked of the
// upstream reaches the client as httpd's 502. Stop and Restart kill httpd;
// the upstream keeps running.
func ApacheBackend(t testing.TB, idle time.Duration, maxRequests int) *Backend {
	t.Helper()
	l := newLedger()
	up := &goServer{ledger: l}
	up.start(t, "127.0.0.1:0")
	t.Cleanup(up.stop)
	a := newApache(t, idle, maxRequests, up.addr)
	return &Backend{
		Name:   "apache",
		URL:    &url.URL{Scheme: "http", Host: a.addr},
		ledger: func(testing.TB) map[string]int { return l.snapshot() },
		stop:   func(testing.TB) { a.stop() },
		start:  a.start,
	}
}

// apacheServer is one httpd at a time, with its own config in a temporary
// directory.
type apacheServer struct {
	bin, conf, dir, addr string
	cmd                  *exec.Cmd
	exited               chan struct{} // closed once cmd has been waited for
}

func newApache(t testing.TB, idle time.Duration, maxRequests int, upstream string) *apacheServer {
	t.Helper()
	bin, err := exec.LookPath("apache2")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/apache2"); err != nil {
			missing(t, "apache2 (Apache httpd)")
		}
	}
	modules := "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(modules, "mod_mpm_event.so")); err != nil {
		missing(t, "Apache httpd modules in "+modules)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	// Workers drop root (CI runs as root, and httpd refuses to serve as
	// root); they only proxy, so they need no file of dir.
	conf := fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
Listen %[2]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
LogLevel warn
Mutex posixsem
LoadModule mpm_event_module %[6]s/mod_mpm_event.so
LoadModule authz_core_module %[6]s/mod_authz_core.so
LoadModule proxy_module %[6]s/mod_proxy.so
LoadModule proxy_http_module %[6]s/mod_proxy_http.so
User nobody
Group nogroup
StartServers 1
ServerLimit 1
ThreadsPerChild 64
MaxRequestWorkers 64
KeepAlive On
KeepAliveTimeout %[3]dms
MaxKeepAliveRequests %[4]d
ProxyPass / http://%[5]s/
`, dir, addr, idle.Milliseconds(), maxRequests, upstream, modules)
	a := &apacheServer{bin: bin, conf: filepath.Join(dir, "httpd.conf"), dir: dir, addr: addr}
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	t.Cleanup(a.stop)
	return a
}

// start runs httpd as a single process (-X: one child's threads, no
// parent), so that killing it drops every connection at once, and returns
// when it accepts connections.
func (a *apacheServer) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(a.bin, "-X", "-f", a.conf)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start apache2: %v", err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(a.exited)
	for range 250 {
		c, err := net.Dial("tcp", a.addr)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-a.exited:
			a.cmd = nil
			log, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
			t.Fatalf("apache2 exited before listening on %s:\n%s", a.addr, log)
		case <-time.After(20 * time.Millisecond): // waiting for an external process to listen
		}
	}
	a.stop()
	log, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
	t.Fatalf("apache2 did not listen on %s:\n%s", a.addr, log)
}

// stop kills httpd: the kernel drops its connections at once.
func (a *apacheServer) stop() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	<-a.exited
	a.cmd = nil
}
