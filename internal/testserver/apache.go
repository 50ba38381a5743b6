package testserver

import (
	"fmt"
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
	return proxiedBackend(t, "apache", func(upstream string) *process {
		return newApache(t, idle, maxRequests, upstream)
	})
}

func newApache(t testing.TB, idle time.Duration, maxRequests int, upstream string) *process {
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
	addr := freeAddr(t)
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
	path := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// -X: a single process (one child's threads, no parent), so that
	// killing it drops every connection at once.
	a := &process{name: "apache2", bin: bin, args: []string{"-X", "-f", path}, dir: dir, addr: addr}
	a.start(t)
	t.Cleanup(a.stop)
	return a
}
