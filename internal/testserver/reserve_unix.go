//go:build unix

package testserver

import (
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// reserve binds a socket to addr (ip:port) without listening on it, and
// returns the function that closes it. While a backend is down this keeps
// its port from being handed to a listener that asks for any port, and a
// dial to it is still refused. The server started on addr next shares the
// port, since both set SO_REUSEADDR and only one listens.
func reserve(t testing.TB, addr string) (release func()) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("testserver: reserve %s: not an IPv4 address and port", addr)
	}
	syscall.ForkLock.RLock() // no child process may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatalf("testserver: reserve %s: %v", addr, err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		_ = syscall.Close(fd)
		t.Fatalf("testserver: reserve %s: %v", addr, err)
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	err = syscall.Bind(fd, sa)
	// The port can be in use for a moment: a socket of the stopped
	// server still closing, or a connection that another test process
	// opened just then and that the kernel gave the freed port as its
	// own. Try again for a second at most.
	for i := 0; i < 50 && errors.Is(err, syscall.EADDRINUSE); i++ {
		time.Sleep(20 * time.Millisecond)
		err = syscall.Bind(fd, sa)
	}
	if err != nil {
		_ = syscall.Close(fd)
		t.Fatalf("testserver: reserve %s: %v", addr, err)
	}
	return sync.OnceFunc(func() { _ = syscall.Close(fd) })
}
