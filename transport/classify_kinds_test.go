package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestClassifyNeverSucceeding runs requests that no retry can help: each
// attempt gets its own kind, decided from types and from the request
// itself, never from the error's text.
func TestClassifyNeverSucceeding(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes fail on purpose
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	trusted := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	wrongName := trusted.Clone()
	wrongName.ServerName = "not-in-the-certificate.example"
	dns := nxdomainServer(t)

	tests := []struct {
		name string
		url  string
		// change, when set, edits the request after it was built.
		change func(r *http.Request)
		base   func(b *http.Transport)
		kind   retry.Kind
		// names is what the chain must say about the request.
		names string
	}{
		{
			name: "certificate of an unknown authority",
			url:  tlsSrv.URL,
			kind: retry.KindTLSCertificate,
		},
		{
			name: "certificate for another name",
			url:  tlsSrv.URL,
			base: func(b *http.Transport) { b.TLSClientConfig = wrongName },
			kind: retry.KindTLSCertificate,
		},
		{
			name: "unknown host",
			url:  "http://no-such-host.invalid/",
			base: func(b *http.Transport) {
				d := &net.Dialer{Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "udp", dns)
				}}}
				b.DialContext = d.DialContext
			},
			kind: retry.KindDNSNotFound,
		},
		{
			name:   "header value with a newline",
			url:    "http://127.0.0.1:1/",
			change: func(r *http.Request) { r.Header.Set("X-Split", "a\nb") },
			kind:   retry.KindInvalidRequest, names: `"X-Split"`,
		},
		{
			name:   "header name with a space",
			url:    "http://127.0.0.1:1/",
			change: func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} },
			kind:   retry.KindInvalidRequest, names: `"Bad Name"`,
		},
		{
			name: "ftp scheme",
			url:  "ftp://127.0.0.1:1/",
			kind: retry.KindInvalidRequest, names: `"ftp"`,
		},
		{
			name: "no host",
			url:  "http:///orders",
			kind: retry.KindInvalidRequest, names: "no host",
		},
		{
			name:   "method that is not a token",
			url:    "http://127.0.0.1:1/",
			change: func(r *http.Request) { r.Method = "BAD METHOD" },
			kind:   retry.KindInvalidRequest, names: `"BAD METHOD"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := http.DefaultTransport.(*http.Transport).Clone()
			if tt.base != nil {
				tt.base(base)
			}
			c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(base))}
			req, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader("order"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(req)
			}
			_, err = c.Do(req)
			checkAttempt(t, err, want{
				stage: retry.StageNotConnected, kind: tt.kind,
				is:    []error{transport.ErrUnprocessed},
				isNot: []error{transport.ErrDial, transport.ErrResetBeforeHeaders},
			})
			if tt.names != "" && !chainSays(err, "resilient: invalid request", tt.names) {
				t.Errorf("no error in the chain of %v says why the request is invalid, naming %s", err, tt.names)
			}
		})
	}
	t.Run("certificate error is typed", func(t *testing.T) {
		c := &http.Client{Transport: newTransport(t, transport.WithoutRetry())}
		_, err := c.Get(tlsSrv.URL)
		var ua x509.UnknownAuthorityError
		var ve *tls.CertificateVerificationError
		if !errors.As(err, &ua) || !errors.As(err, &ve) {
			t.Fatalf("want x509.UnknownAuthorityError and *tls.CertificateVerificationError in %v", err)
		}
	})
}

// chainSays reports whether an error in err's chain says all of words.
func chainSays(err error, words ...string) bool {
	for err != nil {
		says := true
		for _, w := range words {
			says = says && strings.Contains(err.Error(), w)
		}
		if says {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if chainSays(e, words...) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// nxdomainServer is a DNS server on 127.0.0.1 that answers every query
// with NXDOMAIN: the host does not exist. It stops when the test ends.
func nxdomainServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply, ok := nxdomain(buf[:n]); ok {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// nxdomain builds the NXDOMAIN answer to query.
func nxdomain(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired,
		RecursionAvailable: true, RCode: dnsmessage.RCodeNameError,
	})
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil, false
	}
	reply, err := b.Finish()
	return reply, err == nil
}

// TestClassifyTimeouts tells the base transport's timeouts, which end one
// attempt while the request's context is live, from the request's own
// deadline.
func TestClassifyTimeouts(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	silent := rawServer(t, func(c net.Conn, _ *bufio.Reader) {
		_, _ = io.Copy(io.Discard, c) // never answers the TLS handshake
	})
	tests := []struct {
		name     string
		url      string
		base     func(b *http.Transport)
		deadline time.Duration
		stage    retry.Stage
		kind     retry.Kind
	}{
		{
			name:  "response header timeout",
			url:   slow.URL,
			base:  func(b *http.Transport) { b.ResponseHeaderTimeout = 100 * time.Millisecond },
			stage: retry.StageRequestWritten, kind: retry.KindTimeout,
		},
		{
			name:  "TLS handshake timeout",
			url:   "https://" + silent + "/",
			base:  func(b *http.Transport) { b.TLSHandshakeTimeout = 100 * time.Millisecond },
			stage: retry.StageNotConnected, kind: retry.KindTimeout,
		},
		{
			name:     "request deadline",
			url:      slow.URL,
			deadline: 100 * time.Millisecond,
			stage:    retry.StageRequestWritten, kind: retry.KindDeadline,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := http.DefaultTransport.(*http.Transport).Clone()
			if tt.base != nil {
				tt.base(base)
			}
			c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(base))}
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, strings.NewReader("order"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(req)
			w := want{stage: tt.stage, kind: tt.kind, isNot: []error{transport.ErrResetBeforeHeaders}}
			if tt.stage > retry.StageNothingWritten {
				w.isNot = append(w.isNot, transport.ErrUnprocessed)
			}
			checkAttempt(t, err, w)
			if ctxErr := req.Context().Err(); (ctxErr != nil) != (tt.deadline > 0) {
				t.Errorf("request context error %v; the scenario is broken", ctxErr)
			}
		})
	}
}
