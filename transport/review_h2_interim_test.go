package transport_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/resilient-http/resilient/transport"
)

// TestReviewHTTP2InterimThenRefused: FINDING: an HTTP/2 server that ran a
// POST and sent an interim response (103 Early Hints) before it reset the
// stream with REFUSED_STREAM gets the POST again. The caller's body cannot
// be rewound, so net/http alone would fail the request; the transport
// hands the HTTP/2 implementation the replay buffer as GetBody, and it
// resends the refused stream by itself. On HTTP/1 a response byte wins
// over any hang-up (TestStaleConnectionRefusesAnsweredRequest); on HTTP/2
// the interim response is invisible to the byte counts and to the
// classification, which would call the attempt ServerRefused too.
func TestReviewHTTP2InterimThenRefused(t *testing.T) {
	var mu sync.Mutex
	streams := 0
	addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, n int) bool {
		mu.Lock()
		streams++
		mu.Unlock()
		if n == 0 {
			writeStatus(fr, id, http.StatusEarlyHints, false)
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			return false
		}
		writeStatus(fr, id, http.StatusOK, true)
		return false
	})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	tr := newTransport(t, transport.WithBase(base))
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/", io.NopCloser(strings.NewReader("order")))
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	mu.Lock()
	n := streams
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the server got the POST %d times after it sent an interim response (err %v)", n, err)
	}
	var ae *transport.AttemptError
	if errors.As(err, &ae) && (ae.ServerRefused || ae.Unprocessed()) {
		t.Fatalf("an attempt that got an interim response is reported refused/unprocessed: %v", err)
	}
}
