package transport_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestReviewDeclinedHookNoResend: FINDING: with Policy.IdempotencyKey, the
// Idempotency-Key the transport attaches to a POST makes net/http take the
// request for replayable, and net/http resends it by itself on a new
// connection when a reused connection fails after the request was written
// (a reset before the first response byte), with the body rewound through
// the GetBody every attempt carries. The caller's hook is never asked; a
// hook that would decline does not stop the second run. A server that
// does not de-duplicate runs the POST twice.
func TestReviewDeclinedHookNoResend(t *testing.T) {
	srv := newHalfAnswerServer(t, "", true) // reads the whole second request, then resets
	var asked atomic.Int32
	decline := func(retry.Attempt) bool { asked.Add(1); return false }
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{Hook: decline, IdempotencyKey: true})))
	url := "http://" + srv.addr + "/"
	send := func(id string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("order"))
		req.Header.Set("X-Request-Id", id)
		return tr.RoundTrip(req)
	}
	resp, err := send("warm")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	resp, err = send("order-1")
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.CloseIdleConnections()
	if n := srv.ran("order-1"); n != 1 {
		t.Fatalf("the POST ran %d times though the hook (asked %d times) allows no retry (err %v)", n, asked.Load(), err)
	}
}
