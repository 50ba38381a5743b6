package transport_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestReviewHTTP2InvalidRequestOnce: FINDING: a request that HTTP/2 can
// never carry (a connection-specific header such as "Connection: Upgrade",
// which a gateway may forward from its client, or an Upgrade or
// Transfer-Encoding header) fails on every HTTP/2 connection before a
// frame is sent. It is classified other, not invalid_request, so a GET is
// attempted three times and takes budget tokens, where the promise is
// one attempt at no cost.
func TestReviewHTTP2InvalidRequestOnce(t *testing.T) {
	tests := []struct{ name, key, value string }{
		{"Connection: Upgrade", "Connection", "Upgrade"},
		{"Upgrade: websocket", "Upgrade", "websocket"},
		{"Transfer-Encoding: gzip", "Transfer-Encoding", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var streams atomic.Int32
			addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, _ int) bool {
				streams.Add(1)
				writeStatus(fr, id, http.StatusOK, true)
				return false
			})
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.TLSClientConfig = tlsConf
			base.ForceAttemptHTTP2 = true
			budget := retry.NewBudget(0, 0, 0)
			tr := newTransport(t, transport.WithBase(base), transport.WithRetry(fastPolicy(retry.Policy{})), transport.WithRetryBudget(budget))
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
			req.Header.Set(tt.key, tt.value)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("the scenario needs HTTP/2 to refuse the request")
			}
			if n := streams.Load(); n != 0 {
				t.Fatalf("the server got %d streams; the scenario needs the request refused before a frame", n)
			}
			var re *retry.Error
			var ae *transport.AttemptError
			if !errors.As(err, &re) || re.Attempts != 1 || !errors.As(err, &ae) || ae.Kind != retry.KindInvalidRequest || !budget.Full() {
				t.Fatalf("want one attempt, kind invalid_request, the budget untouched; got %v (budget full %v)", err, budget.Full())
			}
		})
	}
}
