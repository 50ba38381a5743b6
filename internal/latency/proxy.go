package latency

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy relays TCP connections from its listener to a target address, one
// way delayed by a fixed latency in each direction.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on 127.0.0.1 and relays every accepted connection to
// target with the given one-way delay. Close stops it.
func Start(target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, delay: delay, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every relayed connection and waits for the
// relay goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		backend, err := net.Dial("tcp", p.target)
		if err != nil {
			abort(client)
			continue
		}
		if !p.track(client, backend) {
			client.Close()
			backend.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			var done sync.WaitGroup
			done.Add(2)
			go func() { defer done.Done(); p.pipe(client, backend) }()
			go func() { defer done.Done(); p.pipe(backend, client) }()
			done.Wait()
			p.untrack(client, backend)
		}()
	}
}

// chunk is data, or the end of a direction, due for delivery at a time.
type chunk struct {
	due  time.Time
	data []byte
	end  error // io.EOF for a FIN, another error for a reset
}

// pipe copies src to dst, each chunk and the final close delivered delay
// after it was read. A FIN is relayed as a FIN, a reset as a reset.
func (p *Proxy) pipe(src, dst net.Conn) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{due: time.Now().Add(p.delay), data: buf[:n]}
			}
			if err != nil {
				queue <- chunk{due: time.Now().Add(p.delay), end: err}
				return
			}
		}
	}()
	failed := false
	for c := range queue {
		if failed {
			continue
		}
		time.Sleep(time.Until(c.due)) // the delay being simulated, not synchronisation
		switch {
		case c.end == nil:
			if _, err := dst.Write(c.data); err != nil {
				failed = true
				abort(src)
			}
		case errors.Is(c.end, io.EOF):
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		default:
			abort(dst)
		}
	}
}

// abort closes c with a reset (RST) instead of a FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
