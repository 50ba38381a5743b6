package idle

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

// precision is how close Probe's measure must come to the moment a server
// closes.
const precision = 50 * time.Millisecond

// probeCtx bounds a probe of a server that closes within a few seconds.
func probeCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// lateness is how late a server may close under load (a busy machine
// delays event loops and timers), beyond its setting.
const lateness = 250 * time.Millisecond

// TestProbeServers probes real servers with known idle timeouts, through
// a tap that sees each server's real close as its bytes arrive. The probe
// must measure that close within precision; the server must close when
// its setting says, give or take scheduling on a busy machine. Node.js
// v20 closes an idle connection keepAliveTimeout plus one second after
// the response (1.30 s for 300 ms, 2.00 s for 1 s), while it advertises
// the timeout rounded down to whole seconds.
func TestProbeServers(t *testing.T) {
	tests := []struct {
		name         string
		start        func(t *testing.T) string
		closesAfter  time.Duration
		header       string
		timeout      time.Duration
		maxRequests  int
		wantDisagree bool
	}{
		{
			name:        "go",
			start:       func(t *testing.T) string { return testserver.GoBackend(t, 300*time.Millisecond).URL.String() },
			closesAfter: 300 * time.Millisecond,
		},
		{
			name:        "nginx silent",
			start:       func(t *testing.T) string { return testserver.Nginx(t, 300*time.Millisecond, false).String() },
			closesAfter: 300 * time.Millisecond,
		},
		{
			name:        "nginx advertising",
			start:       func(t *testing.T) string { return testserver.Nginx(t, time.Second, true).String() },
			closesAfter: time.Second,
			header:      "timeout=1",
			timeout:     time.Second,
		},
		{
			name:         "node under a second",
			start:        func(t *testing.T) string { return testserver.Node(t, 300*time.Millisecond).String() },
			closesAfter:  1300 * time.Millisecond,
			header:       "timeout=0",
			wantDisagree: true,
		},
		{
			name:         "node",
			start:        func(t *testing.T) string { return testserver.Node(t, time.Second).String() },
			closesAfter:  2 * time.Second,
			header:       "timeout=1",
			timeout:      time.Second,
			wantDisagree: true,
		},
		{
			name:        "apache under a second",
			start:       func(t *testing.T) string { return testserver.ApacheBackend(t, 300*time.Millisecond, 0).URL.String() },
			closesAfter: 300 * time.Millisecond,
			header:      "timeout=0",
		},
		{
			name:        "apache",
			start:       func(t *testing.T) string { return testserver.ApacheBackend(t, time.Second, 5).URL.String() },
			closesAfter: time.Second,
			header:      "timeout=1, max=5",
			timeout:     time.Second,
			maxRequests: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backend, err := url.Parse(tt.start(t))
			if err != nil {
				t.Fatal(err)
			}
			tp := startTap(t, backend.Host)
			target := "http://" + tp.addr + "/probe"
			res, err := Probe(probeCtx(t, 10*time.Second), target)
			if err != nil {
				t.Fatal(err)
			}
			actual := <-tp.closed
			t.Logf("%s: advertised %q, closed (%s) after %v, really after %v", tt.name, res.Advertised.Header, res.Closed, res.Measured, actual)
			if res.Closed != CloseFIN {
				t.Errorf("Closed = %q, want %q", res.Closed, CloseFIN)
			}
			if d := res.Measured - actual; d < -precision || d > precision {
				t.Errorf("Measured = %v, want the real %v ± %v", res.Measured, actual, precision)
			}
			if actual < tt.closesAfter-precision || actual > tt.closesAfter+lateness {
				t.Errorf("the server closed after %v, want %v (up to %v late)", actual, tt.closesAfter, lateness)
			}
			want := Advertisement{Header: tt.header, Timeout: tt.timeout, MaxRequests: tt.maxRequests}
			if res.Advertised != want {
				t.Errorf("Advertised = %+v, want %+v", res.Advertised, want)
			}
			if res.Disagree != tt.wantDisagree {
				t.Errorf("Disagree = %v, want %v", res.Disagree, tt.wantDisagree)
			}
			if res.URL != target || res.Method != http.MethodGet || res.Status != http.StatusOK || res.LongerThan != 0 || res.ExtraBytes != 0 {
				t.Errorf("result = %+v", res)
			}
			rec := res.Recommendation
			if rec.From != "measured" || rec.IdleTimeout != time.Duration(float64(res.Measured)*DefaultRatio).Truncate(time.Millisecond) {
				t.Errorf("Recommendation = %+v for %v measured", rec, res.Measured)
			}
		})
	}
}

// TestProbeTLS probes a Go server over TLS that also speaks HTTP/2: the
// probe must get HTTP/1.1, and time the close of the TLS connection or
// give up at the context's end.
func TestProbeTLS(t *testing.T) {
	tests := []struct {
		name       string
		idle       time.Duration // the server's; zero: never closes
		ctxTimeout time.Duration
		wantClosed CloseKind
		waits      time.Duration // until the close, or until the probe gives up
	}{
		{name: "closes", idle: 300 * time.Millisecond, ctxTimeout: 5 * time.Second, wantClosed: CloseFIN, waits: 300 * time.Millisecond},
		{name: "never closes", ctxTimeout: 300 * time.Millisecond, wantClosed: CloseNone, waits: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert := testserver.SelfSigned(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			proto := make(chan string, 1)
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					proto <- r.Proto
					_, _ = io.WriteString(w, "ok")
				}),
				TLSConfig:   cert.Server.Clone(),
				IdleTimeout: tt.idle,
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = srv.ServeTLS(ln, "", "")
			}()
			t.Cleanup(func() {
				_ = srv.Close()
				<-done
			})

			p := Prober{TLSConfig: &tls.Config{RootCAs: cert.Pool}}
			res, err := p.Probe(probeCtx(t, tt.ctxTimeout), "https://"+ln.Addr().String()+"/")
			if err != nil {
				t.Fatal(err)
			}
			if got := <-proto; got != "HTTP/1.1" {
				t.Errorf("server saw %s, want HTTP/1.1", got)
			}
			got := res.Measured + res.LongerThan
			if res.Closed != tt.wantClosed || got < tt.waits-precision || got > tt.waits+lateness {
				t.Errorf("closed (%s) after %v, longer than %v; want %s after %v (up to %v late)", res.Closed, res.Measured, res.LongerThan, tt.wantClosed, tt.waits, lateness)
			}
			if p.TLSConfig.NextProtos != nil || p.TLSConfig.ServerName != "" {
				t.Errorf("the caller's tls.Config was changed: %+v", p.TLSConfig)
			}
		})
	}
}

// TestProbeRaw probes scripted servers for what real ones rarely do:
// reset, never close, send bytes after the response.
func TestProbeRaw(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct {
		name         string
		script       func(c *scriptConn, stop <-chan struct{})
		ctxTimeout   time.Duration
		wantClosed   CloseKind
		wantExtra    int
		wantRec      string
		wantDisagree bool
	}{
		{
			name: "reset",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, ok)
				wait(300*time.Millisecond, stop)
				_ = c.SetLinger(0)
			},
			ctxTimeout: 5 * time.Second,
			wantClosed: CloseReset,
			wantRec:    "measured",
		},
		{
			name: "never closes",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=9\r\nContent-Length: 2\r\n\r\nok")
				<-stop
			},
			ctxTimeout: 300 * time.Millisecond,
			wantClosed: CloseNone,
			wantRec:    "advertised",
		},
		{
			name: "closes before it advertises, as a proxy may",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok")
				wait(300*time.Millisecond, stop)
			},
			ctxTimeout:   5 * time.Second,
			wantClosed:   CloseFIN,
			wantRec:      "measured",
			wantDisagree: true,
		},
		{
			name: "never closes silent",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, ok)
				<-stop
			},
			ctxTimeout: 300 * time.Millisecond,
			wantClosed: CloseNone,
		},
		{
			name: "bytes with the response",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, ok+"junk")
				wait(300*time.Millisecond, stop)
			},
			ctxTimeout: 5 * time.Second,
			wantClosed: CloseFIN,
			wantExtra:  4,
			wantRec:    "measured",
		},
		{
			name: "bytes while idle",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, ok)
				wait(100*time.Millisecond, stop)
				_, _ = io.WriteString(c, "junk!")
				wait(200*time.Millisecond, stop)
			},
			ctxTimeout: 5 * time.Second,
			wantClosed: CloseFIN,
			wantExtra:  5,
			wantRec:    "measured",
		},
		{
			name: "interim response first",
			script: func(c *scriptConn, stop <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+ok)
				wait(300*time.Millisecond, stop)
			},
			ctxTimeout: 5 * time.Second,
			wantClosed: CloseFIN,
			wantRec:    "measured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, closed := rawServer(t, tt.script)
			res, err := Probe(probeCtx(t, tt.ctxTimeout), url)
			if err != nil {
				t.Fatal(err)
			}
			if res.Closed != tt.wantClosed {
				t.Errorf("Closed = %q, want %q", res.Closed, tt.wantClosed)
			}
			if tt.wantClosed == CloseNone {
				if d := res.LongerThan - tt.ctxTimeout; d < -precision || d > lateness || res.Measured != 0 {
					t.Errorf("closed (%s) after %v, longer than %v; want longer than %v (up to %v late)", res.Closed, res.Measured, res.LongerThan, tt.ctxTimeout, lateness)
				}
			} else if actual := <-closed; res.Measured < actual-precision || res.Measured > actual+precision {
				t.Errorf("closed (%s) after %v, want after the real %v ± %v", res.Closed, res.Measured, actual, precision)
			}
			if res.ExtraBytes != tt.wantExtra {
				t.Errorf("ExtraBytes = %d, want %d", res.ExtraBytes, tt.wantExtra)
			}
			if res.Disagree != tt.wantDisagree {
				t.Errorf("Disagree = %v, want %v", res.Disagree, tt.wantDisagree)
			}
			if res.Recommendation.From != tt.wantRec {
				t.Errorf("Recommendation = %+v, want from %q", res.Recommendation, tt.wantRec)
			}
		})
	}
}

// TestProbeErrors checks that failures are errors a caller can test.
func TestProbeErrors(t *testing.T) {
	tests := []struct {
		name   string
		script func(c *scriptConn, stop <-chan struct{})
		target string // instead of a script
		want   error
	}{
		{
			name: "connection close",
			script: func(c *scriptConn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			},
			want: ErrNoKeepAlive,
		},
		{
			name: "http/1.0",
			script: func(c *scriptConn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			},
			want: ErrNoKeepAlive,
		},
		{
			name: "no length",
			script: func(c *scriptConn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nok")
			},
			want: ErrNoKeepAlive,
		},
		{
			name:   "no response before the deadline",
			script: func(_ *scriptConn, stop <-chan struct{}) { <-stop },
			want:   context.DeadlineExceeded,
		},
		{
			name:   "not http",
			target: "ftp://127.0.0.1/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := tt.target
			if tt.script != nil {
				target, _ = rawServer(t, tt.script)
			}
			res, err := Probe(probeCtx(t, 300*time.Millisecond), target)
			if err == nil {
				t.Fatalf("Probe = %+v, want an error", res)
			}
			t.Log(err)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
		})
	}
}

// rawServer serves one connection at a time with script, after reading a
// request, and closes it when script returns. It returns the URL to probe
// and a channel that tells, for each connection script wrote to, how long
// after its first write (the response) it was closed.
func rawServer(t *testing.T, script func(c *scriptConn, stop <-chan struct{})) (string, <-chan time.Duration) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	closed := make(chan time.Duration, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := &scriptConn{TCPConn: c.(*net.TCPConn)}
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				script(sc, stop)
			}
			if !sc.first.IsZero() {
				select {
				case closed <- time.Since(sc.first):
				default:
				}
			}
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		close(stop)
		_ = ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/", closed
}

// scriptConn is a connection of rawServer, which remembers when it was
// first written to.
type scriptConn struct {
	*net.TCPConn
	first time.Time
}

func (c *scriptConn) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	if c.first.IsZero() {
		c.first = time.Now()
	}
	return n, err
}

// tap relays connections to upstream, and sends on closed, for each one
// upstream closes with a FIN, how long after the last bytes it sent: when
// the server really closed, as seen on this host. It passes a reset on as
// a reset.
type tap struct {
	addr   string
	closed chan time.Duration
}

func startTap(t *testing.T, upstream string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{addr: ln.Addr().String(), closed: make(chan time.Duration, 1)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Go(func() { tp.relay(c.(*net.TCPConn), upstream, track) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return tp
}

func (tp *tap) relay(c *net.TCPConn, upstream string, track func(net.Conn)) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	track(u)
	defer u.Close()
	requests := make(chan struct{})
	go func() {
		defer close(requests)
		_, _ = io.Copy(u, c)
		_ = u.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 32<<10)
	var last time.Time
	for {
		n, err := u.Read(buf)
		if n > 0 {
			_, _ = c.Write(buf[:n])
			last = time.Now()
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			select {
			case tp.closed <- time.Since(last):
			default:
			}
			_ = c.CloseWrite()
		} else {
			_ = c.SetLinger(0)
			_ = c.Close()
		}
		break
	}
	<-requests
}

// wait sleeps d, the delay a scripted server idles, or until stop.
func wait(d time.Duration, stop <-chan struct{}) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-stop:
	}
}

func TestDisagree(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name                 string
		adv                  time.Duration
		advertised, closed   bool
		measured, longerThan time.Duration
		want                 bool
	}{
		{name: "nothing advertised", closed: true, measured: 5 * s},
		{name: "on time", adv: 5 * s, advertised: true, closed: true, measured: 5*s + 2*time.Millisecond},
		{name: "rounded down", adv: 5 * s, advertised: true, closed: true, measured: 5*s + 900*time.Millisecond},
		{name: "within the round trip and slack", adv: 5 * s, advertised: true, closed: true, measured: 5*s - 55*time.Millisecond},
		{name: "early", adv: 5 * s, advertised: true, closed: true, measured: 5*s - 70*time.Millisecond, want: true},
		{name: "early, a proxy", adv: 5 * s, advertised: true, closed: true, measured: 4 * s, want: true},
		{name: "a second late, node", adv: 5 * s, advertised: true, closed: true, measured: 6*s + time.Millisecond, want: true},
		{name: "a second late, node's timer early", adv: 5 * s, advertised: true, closed: true, measured: 6*s - 6*time.Millisecond, want: true},
		{name: "zero advertised, closed under a second", advertised: true, closed: true, measured: 300 * time.Millisecond},
		{name: "zero advertised, node", advertised: true, closed: true, measured: 1300 * time.Millisecond, want: true},
		{name: "open, still within", adv: 5 * s, advertised: true, longerThan: 3 * s},
		{name: "open past the promise", adv: 5 * s, advertised: true, longerThan: 6 * s, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := disagree(tt.adv, tt.advertised, tt.closed, tt.measured, tt.longerThan, 10*time.Millisecond); got != tt.want {
				t.Errorf("disagree = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want Recommendation
	}{
		{5 * time.Second, Recommendation{From: "x", IdleTimeout: 4 * time.Second, Envoy: "4s", GoIdleConnTimeout: "4s"}},
		{6002779755, Recommendation{From: "x", IdleTimeout: 4802 * time.Millisecond, Envoy: "4.802s", GoIdleConnTimeout: "4.802s"}},
		{300 * time.Millisecond, Recommendation{From: "x", IdleTimeout: 240 * time.Millisecond, Envoy: "0.240s", GoIdleConnTimeout: "240ms"}},
		{75 * time.Minute, Recommendation{From: "x", IdleTimeout: time.Hour, Envoy: "3600s", GoIdleConnTimeout: "1h0m0s"}},
		{62 * time.Millisecond, Recommendation{From: "x", DisableKeepAlives: true}},
	}
	for _, tt := range tests {
		if got := recommend("x", tt.d); got != tt.want {
			t.Errorf("recommend(%v) = %+v, want %+v", tt.d, got, tt.want)
		}
	}
}

func TestProbeResultJSON(t *testing.T) {
	res := ProbeResult{
		URL:            "http://b/",
		Method:         "GET",
		Status:         200,
		Advertised:     Advertisement{Header: "timeout=1", Timeout: time.Second},
		Measured:       2 * time.Second,
		Closed:         CloseFIN,
		Disagree:       true,
		Recommendation: recommend("measured", 2*time.Second),
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"url":"http://b/","method":"GET","status":200,` +
		`"advertised":{"header":"timeout=1","timeout_ns":1000000000},` +
		`"measured_ns":2000000000,"closed":"fin","disagree":true,` +
		`"recommendation":{"from":"measured","idle_timeout_ns":1600000000,"envoy_idle_timeout":"1.600s","go_idle_conn_timeout":"1.6s"}}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant\n%s", b, want)
	}
	var back ProbeResult
	if err := json.Unmarshal(b, &back); err != nil || back != res {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// TestProbeRequest checks what the probe sends: the caller's method, over
// HTTP/1.1, asking for keep-alive, with the URL's credentials.
func TestProbeRequest(t *testing.T) {
	type seen struct{ method, proto, connection, user, pass string }
	got := make(chan seen, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		got <- seen{r.Method, r.Proto, r.Header.Get("Connection"), user, pass}
	}))
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	p := Prober{Method: http.MethodHead}
	target := strings.Replace(srv.URL, "http://", "http://probe:secret@", 1)
	res, err := p.Probe(probeCtx(t, 5*time.Second), target)
	if err != nil {
		t.Fatal(err)
	}
	want := seen{method: "HEAD", proto: "HTTP/1.1", connection: "keep-alive", user: "probe", pass: "secret"}
	if s := <-got; s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
	if res.Method != http.MethodHead || res.Closed != CloseFIN || strings.Contains(res.URL, "secret") {
		t.Errorf("result = %+v", res)
	}
}
