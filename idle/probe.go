package idle

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrNoKeepAlive reports a backend that closes the connection after the
// response (Connection: close, or HTTP/1.0 without keep-alive): it has no
// idle timeout to measure, and a client gains nothing by pooling its
// connections.
var ErrNoKeepAlive = errors.New("it does not keep connections alive")

// CloseKind says how a backend ended an idle connection.
type CloseKind string

// How a probed connection ended.
const (
	// CloseNone: the connection was still open when the probe gave up.
	CloseNone CloseKind = "none"
	// CloseFIN: the backend closed it in order (a FIN, or TLS close_notify).
	CloseFIN CloseKind = "fin"
	// CloseReset: the backend reset it (RST), as servers that set SO_LINGER
	// to zero, and some proxies and firewalls, do.
	CloseReset CloseKind = "reset"
)

// Prober measures a backend's real idle timeout on HTTP/1.1: it sends one
// request with Connection: keep-alive on a connection of its own, reads the
// response, then waits until the backend closes the idle connection, and
// times the close as the socket reports it (the FIN or the RST), not by
// guessing with further requests. The zero Prober is ready to use;
// [Probe] uses it.
//
// Proxies named in the environment are not used: the probe measures the
// first server it connects to, which is the one that closes the client's
// idle connections. A proxy or load balancer between the client and the
// application is that server, and may close sooner than the application
// behind it advertises.
type Prober struct {
	// Method is the request method; empty means GET. The request has no
	// body, so a method with side effects runs once on the backend.
	Method string
	// TLSConfig configures https targets, e.g. RootCAs for a test server's
	// self-signed certificate; nil means the defaults. The probe uses a
	// copy that offers only http/1.1 in ALPN, and whose ServerName is the
	// target's host unless set.
	TLSConfig *tls.Config
}

// ProbeResult is what a probe found. It encodes to JSON; durations are in
// nanoseconds, as their keys say.
type ProbeResult struct {
	// URL is the target probed, its password (if any) redacted.
	URL string `json:"url"`
	// Method is the request method sent.
	Method string `json:"method"`
	// Status is the status code of the response.
	Status int `json:"status"`
	// Advertised is what the response's Keep-Alive header promised.
	Advertised Advertisement `json:"advertised"`
	// Measured is how long the connection stayed open, idle, after the
	// response had been read, until the backend closed it; zero when it
	// did not close (see LongerThan). The backend's timer starts when it
	// has written the response, so Measured falls short of the backend's
	// setting by up to the one-way network delay.
	Measured time.Duration `json:"measured_ns,omitempty"`
	// Closed is how the backend closed the connection; CloseNone when it
	// was still open at the context's end.
	Closed CloseKind `json:"closed"`
	// LongerThan is set when the probe gave up at the context's end: the
	// backend keeps idle connections open for longer than that.
	LongerThan time.Duration `json:"longer_than_ns,omitempty"`
	// Disagree reports that the backend closed sooner or later than it
	// advertised. Advertised timeouts are whole seconds, rounded down, so
	// a close within a second after the advertised timeout agrees; one
	// before it (minus the time the response took, which bounds the
	// network delay) does not, and neither does one a second or more
	// after it. timeout=0 advertises less than a second. Node.js closes a
	// second after what it advertises; a proxy in between may close before
	// the backend it fronts.
	Disagree bool `json:"disagree"`
	// ExtraBytes counts bytes the backend sent after the response, which
	// HTTP/1.1 does not allow on an idle connection: a client reusing it
	// would read them as the next response. Nonzero means the response's
	// framing is broken (a wrong Content-Length, or a proxy that garbles
	// it), whatever the timing says.
	ExtraBytes int `json:"extra_bytes,omitempty"`
	// Recommendation is what a client should configure.
	Recommendation Recommendation `json:"recommendation"`
}

// Advertisement is a Keep-Alive response header, raw and parsed. Apache
// httpd sends it only to requests that ask with Connection: keep-alive,
// nginx only when keepalive_timeout has its second parameter, Node.js
// always; Go's http.Server and most others never do.
type Advertisement struct {
	// Header is the header's values joined with ", "; empty when absent.
	Header string `json:"header,omitempty"`
	// Timeout is its timeout parameter; zero when absent or invalid
	// (Node.js advertises timeout=0 for timeouts under a second).
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	// MaxRequests is its max parameter, the requests left on the
	// connection; zero when absent.
	MaxRequests int `json:"max_requests,omitempty"`
}

// Recommendation is the idle limit a client should use so that it always
// closes a pooled connection before the backend does: [DefaultRatio] of
// the measured timeout, or of the advertised one when the probe gave up
// first, the rule a [Tracker] applies. It is empty when nothing was
// learned.
type Recommendation struct {
	// From says what the limit is based on: "measured", "advertised", or
	// empty when there is no recommendation.
	From string `json:"from,omitempty"`
	// IdleTimeout is the client's idle limit, truncated to milliseconds:
	// for [Tracker.Configure], or anything that closes idle connections.
	IdleTimeout time.Duration `json:"idle_timeout_ns,omitempty"`
	// Envoy is the limit as a protobuf Duration ("4.800s"), for the
	// idle_timeout of an Envoy (or Higress) cluster's
	// common_http_protocol_options, which closes upstream connections
	// idle that long.
	Envoy string `json:"envoy_idle_timeout,omitempty"`
	// GoIdleConnTimeout is the limit in time.ParseDuration syntax ("4.8s"),
	// for http.Transport's IdleConnTimeout.
	GoIdleConnTimeout string `json:"go_idle_conn_timeout,omitempty"`
	// DisableKeepAlives is set when the backend closes idle connections
	// so soon (the limit would be under DefaultFloor) that no idle limit
	// is safe: a client should not reuse its connections (Envoy:
	// max_requests_per_connection 1; Go: DisableKeepAlives). The other
	// fields are empty then.
	DisableKeepAlives bool `json:"disable_keep_alives,omitempty"`
}

// Probe measures the idle timeout of the backend at target with the zero
// [Prober].
func Probe(ctx context.Context, target string) (*ProbeResult, error) {
	var p Prober
	return p.Probe(ctx, target)
}

// Probe sends one request to target (an http or https URL) and waits
// until the backend closes the idle connection, or until ctx ends: then
// the result says how long the connection stayed open at least
// (LongerThan), and the error is nil, since that is an answer too. Give
// ctx a deadline beyond the timeout you expect; a backend that keeps idle
// connections for minutes takes minutes to measure.
//
// Probe fails when the request fails, when ctx ends before the response
// has been read, and with [ErrNoKeepAlive] when the backend closes
// the connection with the response.
func (p *Prober) Probe(ctx context.Context, target string) (*ProbeResult, error) {
	// Results and errors get printed: they show no password.
	shown := target
	if u, err := url.Parse(target); err == nil {
		shown = u.Redacted()
	}
	res, err := p.probe(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("idle: probe %s: %w", shown, err)
	}
	res.URL = shown
	return res, nil
}

func (p *Prober) probe(ctx context.Context, target string) (*ProbeResult, error) {
	method := cmp.Or(p.Method, http.MethodGet)
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q: give an http:// or https:// URL", req.URL.Scheme)
	}
	// Apache httpd advertises its timeout only to requests that ask.
	req.Header.Set("Connection", "keep-alive")
	req.Header.Set("User-Agent", "resilient-idle-probe")
	if u := req.URL.User; u != nil {
		pass, _ := u.Password()
		req.SetBasicAuth(u.Username(), pass)
	}

	raw, err := dial(ctx, req.URL)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	// Every read and write below ends when ctx does: the deadline in the
	// past makes them return at once.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn, err := p.handshake(ctx, raw, req.URL)
	if err != nil {
		return nil, ctxErr(ctx, "tls handshake", err)
	}

	sent := time.Now()
	if err := req.Write(conn); err != nil {
		return nil, ctxErr(ctx, "write the request", err)
	}
	br := bufio.NewReader(conn)
	resp, err := readResponse(br, req)
	if err != nil {
		return nil, ctxErr(ctx, "read the response", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, ctxErr(ctx, "read the response body", err)
	}
	_ = resp.Body.Close()
	idleSince := time.Now()
	if resp.Close {
		return nil, fmt.Errorf("%s; %w", closeReason(resp), ErrNoKeepAlive)
	}

	res := &ProbeResult{Method: method, Status: resp.StatusCode}
	advertised := false
	if v := resp.Header.Values("Keep-Alive"); len(v) > 0 {
		ka := ParseKeepAlive(v)
		res.Advertised = Advertisement{Header: strings.Join(v, ", "), Timeout: ka.Timeout, MaxRequests: ka.MaxRequests}
		advertised = ka.Timeout > 0 || advertisesZero(v)
	}
	// Bytes that came with the response belong to no response.
	res.ExtraBytes = br.Buffered()
	closed, extra, err := waitClose(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("wait for the close: %w", err)
	}
	res.Closed, res.ExtraBytes = closed, res.ExtraBytes+extra
	if elapsed := time.Since(idleSince); closed == CloseNone {
		res.LongerThan = elapsed
	} else {
		res.Measured = elapsed
	}

	res.Disagree = disagree(res.Advertised.Timeout, advertised, closed != CloseNone, res.Measured, res.LongerThan, idleSince.Sub(sent))
	switch {
	case closed != CloseNone:
		res.Recommendation = recommend("measured", res.Measured)
	case res.Advertised.Timeout > 0:
		res.Recommendation = recommend("advertised", res.Advertised.Timeout)
	}
	return res, nil
}

// dial connects to u's host, at the scheme's port unless u names one.
func dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return c, nil
}

// handshake returns raw for http, and a TLS client on raw that negotiated
// HTTP/1.1 for https.
func (p *Prober) handshake(ctx context.Context, raw net.Conn, u *url.URL) (net.Conn, error) {
	if u.Scheme != "https" {
		return raw, nil
	}
	cfg := p.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	// A server that ignores ALPN and picks h2 would not understand us.
	if proto := tc.ConnectionState().NegotiatedProtocol; proto != "" && proto != "http/1.1" {
		return nil, fmt.Errorf("server negotiated %q instead of http/1.1; it cannot be probed over HTTP/1.1", proto)
	}
	return tc, nil
}

// waitClose reads conn, the socket itself and not a buffer, until the
// backend closes it or ctx ends (CloseNone), so that the close is timed
// as it comes. It counts the bytes that arrive meanwhile.
func waitClose(ctx context.Context, conn net.Conn) (CloseKind, int, error) {
	buf := make([]byte, 4096)
	extra := 0
	for {
		n, err := conn.Read(buf)
		extra += n
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return CloseFIN, extra, nil
		case errors.Is(err, syscall.ECONNRESET):
			return CloseReset, extra, nil
		case ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded):
			return CloseNone, extra, nil
		default:
			return "", extra, err
		}
	}
}

// ctxErr reports err as ctx's end when ctx ended, since the deadline
// error that the end caused says nothing a caller can test.
func ctxErr(ctx context.Context, what string, err error) error {
	switch cause := context.Cause(ctx); {
	case cause == nil:
		return fmt.Errorf("%s: %w", what, err)
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w; give the probe more time", what, cause)
	default:
		return fmt.Errorf("%s: %w", what, cause)
	}
}

// closeReason says why resp ends its connection. http.ReadResponse
// removes the Connection: close it acted on, so what is left tells.
func closeReason(resp *http.Response) string {
	switch {
	case resp.ContentLength < 0 && len(resp.TransferEncoding) == 0:
		return "response has no length, so the close ends it"
	case !resp.ProtoAtLeast(1, 1):
		return "server answered with " + resp.Proto + " and no Connection: keep-alive"
	}
	return "server answered with Connection: close"
}

// readResponse reads the final response to req, skipping interim ones
// (100 Continue, 103 Early Hints), which have no body.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("server switched protocols; probe a URL that answers plain HTTP/1.1")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		}
		return resp, nil
	}
}

// timerSlack is how much earlier than its setting a backend may seem to
// close: event loops (Node.js, nginx) start timers from a clock read once
// per loop iteration, a few milliseconds old.
const timerSlack = 50 * time.Millisecond

// disagree says whether a close after measured (closed), or a connection
// still open after longerThan, contradicts an advertised timeout adv
// (advertised: the header had a timeout, maybe zero). Advertised values
// are rounded down to whole seconds, so the backend's timeout lies in
// [adv, adv+1s). Measured starts once the response has been read, later
// than the backend's timer by the network delay, which is shorter than
// the round trip rtt; timers fire up to timerSlack early. So a setting
// within timerSlack of the next whole second (1.97s advertised as 1)
// counts as disagreeing, as Node.js's close a second after its
// advertised whole seconds does.
func disagree(adv time.Duration, advertised, closed bool, measured, longerThan, rtt time.Duration) bool {
	early := rtt + timerSlack
	switch {
	case !advertised:
		return false
	case closed:
		return measured < adv-early || measured >= adv+time.Second-early
	default:
		return longerThan >= adv+time.Second
	}
}

// advertisesZero says whether Keep-Alive header values have timeout=0,
// which ParseKeepAlive drops as invalid but Node.js sends for timeouts
// under a second: a promise too, that the timeout is under a second.
func advertisesZero(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, val, ok := strings.Cut(part, "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "timeout") && strings.Trim(strings.TrimSpace(val), `"`) == "0" {
				return true
			}
		}
	}
	return false
}

// recommend applies DefaultRatio to the timeout d learned from.
func recommend(from string, d time.Duration) Recommendation {
	limit := time.Duration(float64(d) * DefaultRatio).Truncate(time.Millisecond)
	if limit < DefaultFloor {
		return Recommendation{From: from, DisableKeepAlives: true}
	}
	return Recommendation{
		From:              from,
		IdleTimeout:       limit,
		Envoy:             protoDuration(limit),
		GoIdleConnTimeout: limit.String(),
	}
}

// protoDuration formats d, in whole milliseconds, as the JSON form of a
// google.protobuf.Duration, which Envoy's YAML and JSON configurations
// take: seconds with 0 or 3 fractional digits and an "s".
func protoDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms%1000 == 0 {
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%d.%03ds", ms/1000, ms%1000)
}
