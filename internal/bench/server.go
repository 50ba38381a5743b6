package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/resilient-http/resilient/internal/latency"
)

// server is where the requests go: timedURL for the timed rounds (through
// the relay when there is one), allocURL for counting allocations (always
// direct, so that the relay's own buffers are never counted).
type server struct {
	timedURL, allocURL string
	where              string
	close              func()
}

func (s *server) describe() string {
	if s.timedURL == s.allocURL {
		return fmt.Sprintf("%s, %s", s.where, s.timedURL)
	}
	return fmt.Sprintf("%s, %s (timed rounds through a latency relay at %s; allocations counted direct)", s.where, s.allocURL, s.timedURL)
}

// handler drains the request body and answers five bytes.
func handler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = w.Write([]byte("hello"))
}

// listen starts the HTTP server on 127.0.0.1 and, when delay is positive,
// a relay in front of it. It returns the server's and the relay's
// addresses (the same when there is no relay) and what stops both.
func listen(delay time.Duration) (direct, relayed string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(handler), ReadHeaderTimeout: time.Minute}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	stopServer := func() {
		_ = srv.Close()
		<-served
	}
	direct = ln.Addr().String()
	if delay <= 0 {
		return direct, direct, stopServer, nil
	}
	relay, err := latency.Start(direct, delay)
	if err != nil {
		stopServer()
		return "", "", nil, fmt.Errorf("latency relay: %w", err)
	}
	return direct, relay.Addr(), func() { _ = relay.Close(); stopServer() }, nil
}

// startServer starts the server in this process or in a child process.
func startServer(where string, delay time.Duration) (*server, error) {
	if where == "inproc" {
		direct, relayed, stop, err := listen(delay)
		if err != nil {
			return nil, err
		}
		return &server{
			timedURL: "http://" + relayed + "/",
			allocURL: "http://" + direct + "/",
			where:    "in this process (its allocations count in allocs/op and B/op: see the differences to bare)",
			close:    stop,
		}, nil
	}
	return startChild(delay)
}

// startChild re-executes this binary with serveFlag. The child serves until
// its standard input closes, so it ends by itself when this process ends,
// however it ends.
func startChild(delay time.Duration) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this binary to re-execute: %w", err)
	}
	cmd := exec.Command(exe, serveFlag, "-latency="+delay.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server process: %w", err)
	}
	stop := func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("reading the server process's addresses: %w", err)
	}
	direct, relayed, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok {
		stop()
		return nil, fmt.Errorf("server process said %q, want two addresses", line)
	}
	return &server{
		timedURL: "http://" + relayed + "/",
		allocURL: "http://" + direct + "/",
		where:    fmt.Sprintf("child process %d (allocs/op and B/op are the client's alone)", cmd.Process.Pid),
		close:    stop,
	}, nil
}

// serveChild is the child's side of -server=child: it prints the server's
// and the relay's addresses on one line, then serves until in ends.
func serveChild(in io.Reader, out io.Writer, delay time.Duration) error {
	direct, relayed, stop, err := listen(delay)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := fmt.Fprintf(out, "%s %s\n", direct, relayed); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, in); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("waiting for the parent: %w", err)
	}
	return nil
}
