// Command probe measures how long a backend really keeps an idle HTTP/1.1
// connection open, with idle.Probe: what it advertises in Keep-Alive, when
// it closes (and whether with a FIN or a reset), and the idle limit a
// client or gateway should use so that it always closes first.
//
//	go run ./examples/probe http://host:port/path
//	go run ./examples/probe -json -timeout 5m https://host/health
//	go run ./examples/probe -demo
//
// A dot a second on stderr shows it waiting; Ctrl-C stops it with what it
// knows so far.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/resilient-http/resilient/idle"
)

func main() { os.Exit(run()) }

// run probes and returns the exit status: 1 when the probe failed, 2 for
// a wrong command line.
func run() int {
	var (
		asJSON   = flag.Bool("json", false, "print the result as JSON")
		timeout  = flag.Duration("timeout", 2*time.Minute, "give up when the connection stays open this long")
		method   = flag.String("method", http.MethodGet, "request method")
		insecure = flag.Bool("insecure", false, "accept any TLS certificate (test servers)")
		demo     = flag.Bool("demo", false, "probe an in-process Go server with a 2s idle timeout")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: probe [flags] http://host:port/path\n       probe [flags] -demo\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 && !(*demo && flag.NArg() == 0) {
		flag.Usage()
		return 2
	}
	target := flag.Arg(0)
	if *demo {
		url, stop, err := demoServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		target = url
	}

	// Ctrl-C ends the wait; the probe then reports how long it waited.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	p := idle.Prober{Method: *method}
	if *insecure {
		p.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}

	fmt.Fprintf(os.Stderr, "probing %s with %s (up to %v) ", target, *method, *timeout)
	done := make(chan struct{})
	go dots(done)
	res, err := p.Probe(ctx, target)
	close(done)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	report(os.Stdout, res)
	return 0
}

// dots prints a dot a second to stderr until done.
func dots(done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			fmt.Fprint(os.Stderr, ".")
		case <-done:
			return
		}
	}
}

// report prints res for a person, a fact a line.
func report(w io.Writer, res *idle.ProbeResult) {
	fmt.Fprintf(w, "%s answered %d to %s\n", res.URL, res.Status, res.Method)
	adv := res.Advertised
	switch {
	case adv.Header == "":
		fmt.Fprintf(w, "advertised:  nothing (no Keep-Alive header)\n")
	case adv.Timeout > 0:
		fmt.Fprintf(w, "advertised:  Keep-Alive: %s (an idle timeout of %v to %v)\n", adv.Header, adv.Timeout, adv.Timeout+time.Second)
	default:
		fmt.Fprintf(w, "advertised:  Keep-Alive: %s\n", adv.Header)
	}
	switch res.Closed {
	case idle.CloseNone:
		fmt.Fprintf(w, "closed:      not yet: still open after %v, so its idle timeout is longer\n", res.LongerThan.Round(time.Millisecond))
	case idle.CloseReset:
		fmt.Fprintf(w, "closed:      after %v, with a reset (RST)\n", res.Measured.Round(time.Millisecond))
	default:
		fmt.Fprintf(w, "closed:      after %v, with a FIN\n", res.Measured.Round(time.Millisecond))
	}
	if res.Disagree {
		switch {
		case res.Closed == idle.CloseNone:
			fmt.Fprintf(w, "disagree:    it keeps connections open longer than it advertises\n")
		case res.Measured < adv.Timeout:
			fmt.Fprintf(w, "disagree:    it closes before its advertised timeout: a proxy in between?\n")
		default:
			fmt.Fprintf(w, "disagree:    it closes later than it advertises (Node.js adds a second)\n")
		}
	}
	if res.ExtraBytes > 0 {
		fmt.Fprintf(w, "warning:     %d bytes came after the response; its framing is broken, and a reused connection would read them as the next response\n", res.ExtraBytes)
	}
	rec := res.Recommendation
	switch {
	case rec.From == "":
		fmt.Fprintf(w, "recommend:   nothing yet; probe again with a -timeout longer than %v\n", res.LongerThan.Round(time.Second))
	case rec.DisableKeepAlives:
		fmt.Fprintf(w, "recommend:   no keep-alive: it closes idle connections too soon for any idle limit\n")
		fmt.Fprintf(w, "             Envoy/Higress cluster: max_requests_per_connection: 1\n")
		fmt.Fprintf(w, "             Go: http.Transport{DisableKeepAlives: true}\n")
	default:
		basis := res.Measured
		if rec.From == "advertised" {
			basis = adv.Timeout
		}
		fmt.Fprintf(w, "recommend:   client idle limit %v (%.0f%% of the %s %v)\n", rec.IdleTimeout, idle.DefaultRatio*100, rec.From, basis.Round(time.Millisecond))
		fmt.Fprintf(w, "             Envoy/Higress cluster: common_http_protocol_options: {idle_timeout: %s}\n", rec.Envoy)
		fmt.Fprintf(w, "             Go: http.Transport{IdleConnTimeout: %s}\n", rec.GoIdleConnTimeout)
	}
}

// demoServer starts a Go server that closes connections idle for 2s, and
// returns its URL and how to stop it.
func demoServer() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		IdleTimeout:       2 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}
