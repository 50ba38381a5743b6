package testserver

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// process is an external server (nginx, Apache httpd) run as one process
// at a time, so that killing it drops every connection it holds at once.
type process struct {
	name string   // for messages
	bin  string   // the executable
	args []string // its arguments
	dir  string   // its directory, holding error.log
	addr string   // where it listens

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// freeAddr returns a loopback address nothing listens on, for a server
// that must be told its address in its configuration.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// start runs the server and returns when it accepts connections; a server
// that exits or does not listen fails the test with its error log.
func (p *process) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(p.exited)
	for range 250 {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-p.exited:
			p.cmd = nil
			t.Fatalf("%s exited before listening on %s:\n%s", p.name, p.addr, p.errorLog())
		case <-time.After(20 * time.Millisecond): // waiting for an external process to listen
		}
	}
	p.stop()
	t.Fatalf("%s did not listen on %s:\n%s", p.name, p.addr, p.errorLog())
}

// stop kills the server: the kernel drops its connections at once.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

func (p *process) errorLog() string {
	log, _ := os.ReadFile(filepath.Join(p.dir, "error.log"))
	return string(log)
}

// proxiedBackend starts a Go upstream that keeps the ledger and serves the
// behaviours, and in front of it the external server that front starts
// for the upstream's address. Stop and Restart kill the front server; the
// upstream keeps running.
func proxiedBackend(t testing.TB, name string, front func(upstream string) *process) *Backend {
	t.Helper()
	l := newLedger()
	up := &goServer{ledger: l}
	up.start(t, "127.0.0.1:0")
	t.Cleanup(up.stop)
	p := front(up.addr)
	return &Backend{
		Name:   name,
		URL:    &url.URL{Scheme: "http", Host: p.addr},
		ledger: func(testing.TB) map[string]int { return l.snapshot() },
		stop:   func(testing.TB) { p.stop() },
		start:  p.start,
	}
}
