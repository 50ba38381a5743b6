package testserver

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// chaosH2 is Chaos's HTTP/2 listener. It speaks the protocol frame by
// frame (x/net/http2's Framer and hpack), because the faults it needs are
// ones Go's http.Server never commits: refusing a stream, a GOAWAY at a
// chosen stream with chosen debug text, a stream reset after the handler
// ran. Every GOAWAY it sends is honest about the streams it took: a
// stream above its last stream ID is never executed.
type chaosH2 struct {
	c    *Chaos
	ln   net.Listener
	addr string
	work chaosWork // the accept loop, the connections and their streams

	mu     sync.Mutex
	conns  map[*chaosH2Conn]struct{}
	closed bool
}

func startChaosH2(t testing.TB, c *Chaos) *chaosH2 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := c.Cert.Server.Clone()
	cfg.NextProtos = []string{http2.NextProtoTLS}
	s := &chaosH2{c: c, ln: ln, addr: ln.Addr().String(), conns: map[*chaosH2Conn]struct{}{}}
	s.work.add()
	go s.accept(cfg)
	return s
}

func (s *chaosH2) accept(cfg *tls.Config) {
	defer s.work.done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.work.add() {
			_ = nc.Close()
			return
		}
		go func() {
			defer s.work.done()
			s.serve(nc, cfg)
		}()
	}
}

// close stops accepting, closes every connection and waits for every
// goroutine.
func (s *chaosH2) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for cc := range s.conns {
		cc.close()
	}
	s.mu.Unlock()
	s.work.close()
}

// chaosH2Conn is one HTTP/2 connection. Frames are read by serve's
// goroutine and written, whole, under wmu by any goroutine.
type chaosH2Conn struct {
	s    *chaosH2
	raw  net.Conn // the TCP connection, to reset it
	tc   *tls.Conn
	fr   *http2.Framer
	once sync.Once

	wmu    sync.Mutex
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	mu       sync.Mutex
	streams  map[uint32]*chaosStream
	maxTaken uint32 // the highest stream taken: the last stream ID of a GOAWAY
	goneAway bool   // a GOAWAY was sent; no stream is taken any more
	active   int    // streams taken and not finished
	idle     *time.Timer
	closed   bool
	runs     []int // the ledger's indexes of the executions on this connection
}

// chaosStream is a request stream the connection took.
type chaosStream struct {
	id   uint32
	r    *chaosRequest
	body []byte
	done chan struct{} // closed when the client resets it or the connection closes
	// running is set, under the connection's mu, once the body is
	// complete and the stream is handed to its goroutine.
	running bool
}

func (s *chaosH2) serve(raw net.Conn, cfg *tls.Config) {
	tc := tls.Server(raw, cfg)
	cc := &chaosH2Conn{s: s, raw: raw, tc: tc, streams: map[uint32]*chaosStream{}}
	cc.enc = hpack.NewEncoder(&cc.encBuf)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = raw.Close()
		return
	}
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		cc.close()
		s.mu.Lock()
		delete(s.conns, cc)
		s.mu.Unlock()
	}()

	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if tc.Handshake() != nil || tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		return
	}
	if _, err := io.ReadFull(tc, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	_ = tc.SetDeadline(time.Time{})
	cc.fr = http2.NewFramer(tc, tc)
	cc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cc.write(func() error {
		return cc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	})
	for {
		f, err := cc.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				cc.write(cc.fr.WriteSettingsAck)
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				cc.write(func() error { return cc.fr.WritePing(true, f.Data) })
			}
		case *http2.MetaHeadersFrame:
			cc.headers(f)
		case *http2.DataFrame:
			cc.data(f)
		case *http2.RSTStreamFrame:
			cc.reset(f.StreamID)
		case *http2.GoAwayFrame:
			return
		}
	}
}

// headers takes a new stream, or turns it away as its fault says.
func (cc *chaosH2Conn) headers(f *http2.MetaHeadersFrame) {
	id := f.StreamID
	cc.mu.Lock()
	turnedAway := cc.goneAway || cc.streams[id] != nil
	cc.mu.Unlock()
	if turnedAway {
		return
	}
	var reqID, traceparent, key, bodyLen string
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "x-request-id":
			reqID = hf.Value
		case "traceparent":
			traceparent = hf.Value
		case "idempotency-key":
			key = hf.Value
		case "x-body-len":
			bodyLen = hf.Value
		}
	}
	r := cc.s.c.arrive("HTTP/2.0", f.PseudoValue("method"), reqID, traceparent, key, bodyLen, h2Faults, FaultRefusedBefore)
	switch r.Fault {
	case FaultRefusedBefore:
		cc.write(func() error { return cc.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) })
		return
	case FaultGoAwayBefore:
		// A rolling restart: the streams taken so far run to the end, this
		// one and later ones are refused by the GOAWAY's last stream ID.
		cc.goAway(http2.ErrCodeNo, r.hostileText())
		cc.mu.Lock()
		drained := cc.active == 0
		cc.mu.Unlock()
		if drained {
			cc.shutdown()
		}
		return
	}
	st := &chaosStream{id: id, r: r, done: make(chan struct{})}
	cc.mu.Lock()
	if cc.goneAway {
		cc.mu.Unlock()
		return
	}
	cc.streams[id] = st
	cc.maxTaken = id
	cc.active++
	if cc.idle != nil {
		cc.idle.Stop()
	}
	cc.mu.Unlock()
	if f.StreamEnded() {
		cc.run(st)
	}
}

// data collects a stream's body, and gives the flow-control window back
// at once: bodies are small and nothing is buffered for long.
func (cc *chaosH2Conn) data(f *http2.DataFrame) {
	n := f.Header().Length
	if n > 0 {
		cc.write(func() error { return cc.fr.WriteWindowUpdate(0, n) })
	}
	cc.mu.Lock()
	st := cc.streams[f.StreamID]
	cc.mu.Unlock()
	if st == nil {
		return // refused, reset, or turned away by a GOAWAY
	}
	st.body = append(st.body, f.Data()...)
	if f.StreamEnded() {
		cc.run(st)
		return
	}
	if n > 0 {
		cc.write(func() error { return cc.fr.WriteWindowUpdate(f.StreamID, n) })
	}
}

// reset ends a stream the client reset: a running one at its next wait,
// one whose body was still coming at once.
func (cc *chaosH2Conn) reset(id uint32) {
	cc.mu.Lock()
	st := cc.streams[id]
	if st != nil {
		st.end()
	}
	waiting := st != nil && !st.running
	cc.mu.Unlock()
	if waiting {
		cc.finish(st)
	}
}

// run executes a stream whose body is complete, on its own goroutine.
func (cc *chaosH2Conn) run(st *chaosStream) {
	cc.mu.Lock()
	st.running = true
	cc.mu.Unlock()
	if !cc.s.work.add() {
		cc.finish(st)
		return
	}
	go func() {
		defer cc.s.work.done()
		defer cc.finish(st)
		cc.handle(st)
	}()
}

// handle executes the stream, then answers as its fault says.
func (cc *chaosH2Conn) handle(st *chaosStream) {
	c, r, id := cc.s.c, st.r, st.id
	run := c.execute(r, st.body)
	cc.mu.Lock()
	cc.runs = append(cc.runs, run)
	cc.mu.Unlock()
	switch r.Fault {
	case FaultResetAfter:
		// The reset ends every stream of the connection, and may discard
		// answers sent but not yet read: every execution on it may have
		// lost its answer. (One whose answer was read is not repeated,
		// so marking it changes nothing.)
		cc.mu.Lock()
		for _, i := range cc.runs {
			c.reset(i)
		}
		cc.mu.Unlock()
		if tcp, ok := cc.raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		cc.close()
	case FaultJunkAfter:
		cc.writeHeaders(id, true, ":status", "2x0", "x-junk", r.hostileText())
	case FaultGoAwayAfter:
		// The GOAWAY covers this stream, which ran: its hostile text must
		// not make the client believe otherwise. The shutdown that
		// follows may discard answers not yet read, of every execution on
		// the connection, as a reset does (see FaultResetAfter): to the
		// client the peer closed a pooled connection before the answer,
		// the case the StaleConnection hook is documented to retry.
		cc.mu.Lock()
		for _, i := range cc.runs {
			c.reset(i)
		}
		cc.mu.Unlock()
		cc.goAway(http2.ErrCodeNo, r.hostileText())
		cc.shutdown()
	case FaultStreamResetAfter:
		cc.write(func() error { return cc.fr.WriteRSTStream(id, http2.ErrCodeInternal) })
	case FaultStallFinish, FaultStallAbort:
		cc.writeHeaders(id, false, ":status", "200", "content-type", "text/plain", "content-length", "8")
		cc.write(func() error { return cc.fr.WriteData(id, false, []byte("part")) })
		if c.stall(r, st.done) && r.Fault == FaultStallFinish {
			cc.write(func() error { return cc.fr.WriteData(id, true, []byte("done")) })
			return
		}
		cc.write(func() error { return cc.fr.WriteRSTStream(id, http2.ErrCodeInternal) })
	case Fault503:
		cc.writeHeaders(id, false, ":status", "503", "retry-after", r.retryAfter(), "content-length", "4")
		cc.write(func() error { return cc.fr.WriteData(id, true, []byte("busy")) })
	default:
		cc.writeHeaders(id, false, ":status", "200", "content-type", "text/plain", "content-length", "2")
		cc.write(func() error { return cc.fr.WriteData(id, true, []byte("ok")) })
	}
}

// finish forgets a stream; the last one closes a connection that sent a
// GOAWAY, and starts the idle timer of one that did not.
func (cc *chaosH2Conn) finish(st *chaosStream) {
	cc.mu.Lock()
	delete(cc.streams, st.id)
	cc.active--
	drained := cc.goneAway && cc.active == 0
	if cc.active == 0 && !cc.goneAway && !cc.closed {
		// The timer starts with the first stream's end, not with the
		// connection: a client slowed down by the race detector must get
		// to send its first request.
		if cc.idle == nil {
			cc.idle = time.AfterFunc(chaosIdleTimeout, cc.idleClose)
		} else {
			cc.idle.Reset(chaosIdleTimeout)
		}
	}
	cc.mu.Unlock()
	if drained {
		cc.shutdown()
	}
}

// goAway sends a GOAWAY naming the last stream taken, after which no
// stream is taken.
func (cc *chaosH2Conn) goAway(code http2.ErrCode, debug string) {
	cc.mu.Lock()
	cc.goneAway = true
	last := cc.maxTaken
	cc.mu.Unlock()
	cc.write(func() error { return cc.fr.WriteGoAway(last, code, []byte(debug)) })
}

// idleClose closes a connection idle for chaosIdleTimeout since its last
// stream, as Go's
// http.Server does: GOAWAY, then close. A stream the client sends
// meanwhile is above the GOAWAY's last stream ID and never taken.
func (cc *chaosH2Conn) idleClose() {
	if !cc.s.work.add() {
		return
	}
	defer cc.s.work.done()
	cc.mu.Lock()
	busy := cc.active > 0 || cc.goneAway
	cc.mu.Unlock()
	if busy {
		return
	}
	cc.goAway(http2.ErrCodeNo, "idle")
	cc.shutdown()
}

// write runs one frame write under the write lock, with a deadline so
// that a client that stopped reading cannot block the server.
func (cc *chaosH2Conn) write(f func() error) {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_ = cc.tc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = f()
}

// writeHeaders encodes and writes one HEADERS frame with the fields kv
// (name, value, ...). The encoder's state is the connection's, so encoding
// and writing happen under one lock.
func (cc *chaosH2Conn) writeHeaders(id uint32, endStream bool, kv ...string) {
	cc.write(func() error {
		cc.encBuf.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			_ = cc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return cc.fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: id, BlockFragment: cc.encBuf.Bytes(), EndStream: endStream, EndHeaders: true,
		})
	})
}

// shutdown ends a connection after its GOAWAY: TLS close_notify, so that
// the client reads the GOAWAY before the end of the stream and closes the
// connection itself; serve closes it when the client has, or a second
// later.
func (cc *chaosH2Conn) shutdown() {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_ = cc.tc.CloseWrite()
	_ = cc.tc.SetReadDeadline(time.Now().Add(time.Second))
}

// close closes the connection at once and ends every stream's waits.
func (cc *chaosH2Conn) close() {
	cc.once.Do(func() {
		_ = cc.raw.Close()
		cc.mu.Lock()
		defer cc.mu.Unlock()
		cc.closed = true
		for _, st := range cc.streams {
			st.end()
		}
		if cc.idle != nil {
			cc.idle.Stop()
		}
	})
}

// end closes the stream's done channel once; callers hold the
// connection's mu.
func (st *chaosStream) end() {
	select {
	case <-st.done:
	default:
		close(st.done)
	}
}
