package transport

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Hostile review, round 2 (idleStart over TLS). Under TLS the tracked
// conn sees records, not response data: a TLS 1.3 server that sends its
// NewSessionTicket after the client's Finished (OpenSSL, so nginx and
// Apache; Go when it requests a client certificate) has the ticket read
// by the read loop's pending read right after the handshake, before the
// response. conn.sawData takes it as the response's first data (respAt),
// and a slow handler then makes the idle period count from before the
// server's idle clock started: the pooled close is measured too long, and
// the learned limit lands above the server's real idle timeout. The
// handler here never flushes early: a plain 600 ms handler.
func TestReview3TLSTicketIsNotResponseData(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of real time")
	}
	const idleTimeout = time.Second
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(600 * time.Millisecond) // the handler's work: the case itself
		_, _ = io.WriteString(w, "done")
	}))
	srv.Config.IdleTimeout = idleTimeout
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	rt := New(WithBase(&http.Transport{TLSClientConfig: cfg}))
	t.Cleanup(rt.CloseIdleConnections)

	c := getConn(t, rt, srv.URL)
	c.mu.Lock()
	lead, isTLS := c.lead, c.tls
	c.mu.Unlock()
	cause := awaitClose(c, 5*time.Second)
	l := learnedLimit(rt, c.key)
	t.Logf("tls %v; idle counted from %v before the release; closed by %d; learned limit %v (%s)", isTLS, lead.Round(time.Millisecond), cause, l.Timeout, l.Source)
	if lead > 100*time.Millisecond {
		t.Errorf("the idle period counts from %v before the release: a session ticket read after the handshake was taken for the response's first data", lead.Round(time.Millisecond))
	}
	if l.Timeout > idleTimeout {
		t.Errorf("learned limit %v is above the server's real idle timeout %v", l.Timeout, idleTimeout)
	}
}
