package transport_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// TestBaseTransportRewindsBufferedBody proves that a body without GetBody,
// which the transport buffers for replay, can be rewound by the base
// transport itself: x/net/http2 resends a stream the server refused
// (REFUSED_STREAM) on its own when the request has a GetBody, so the
// request succeeds in one attempt of ours. Without it, x/net/http2 fails
// with "cannot retry ... after Request.Body was written" and a second
// attempt of ours is needed.
func TestBaseTransportRewindsBufferedBody(t *testing.T) {
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, n int) bool {
		if n == 0 {
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			return false
		}
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr.Bytes(), EndStream: true, EndHeaders: true})
		return false
	})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	r := newRig(t)
	tr := newTransport(t, r.options(transport.WithBase(base))...)

	body := &bodyCloseSignal{Reader: strings.NewReader(strings.Repeat("p", 5000)), closed: make(chan struct{})}
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/", body)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if n := len(r.attempts()); n != 1 {
		t.Errorf("%d attempts, want 1: the base transport should have resent the refused stream itself", n)
	}
	// A RoundTripper may close the body on another goroutine after
	// RoundTrip returns; x/net/http2 does.
	select {
	case <-body.closed:
	case <-time.After(5 * time.Second):
		t.Error("the caller's body was not closed within 5s")
	}
}

// bodyCloseSignal closes closed when the transport closes the caller's body.
type bodyCloseSignal struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *bodyCloseSignal) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// TestBaseResendBrokenCopyIsTheCallers: x/net/http2 resends a refused
// stream by itself with a body from the caller's GetBody; when that copy
// breaks, the attempt is the caller's failure (KindRequestBody), and the
// request is not sent again: the body, in all its copies, breaks once.
func TestBaseResendBrokenCopyIsTheCallers(t *testing.T) {
	addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, n int) bool {
		_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
		return false
	})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	tr := newTransport(t, transport.WithBase(base))

	var mu sync.Mutex
	var copies []*brokenBody
	req, _ := http.NewRequest(http.MethodPut, "https://"+addr+"/", strings.NewReader(strings.Repeat("p", 5000)))
	req.GetBody = func() (io.ReadCloser, error) {
		b := newBrokenBody(2000, errClientGone)
		mu.Lock()
		copies = append(copies, b)
		mu.Unlock()
		return b, nil
	}
	_, err := tr.RoundTrip(req)
	var ae *transport.AttemptError
	if !errors.As(err, &ae) || ae.Kind != retry.KindRequestBody {
		t.Fatalf("error %v, want an attempt failed with kind %v", err, retry.KindRequestBody)
	}
	mu.Lock()
	defer mu.Unlock()
	failures := 0
	for _, b := range copies {
		failures += b.failedReads()
	}
	if failures != 1 {
		t.Errorf("the copies broke %d times, want once: sent again after the caller's own failure", failures)
	}
}
