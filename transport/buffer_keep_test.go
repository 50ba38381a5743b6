package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/resilient-http/resilient/retry"
)

// opaqueBody hides a reader's type, as a body streamed from elsewhere (an
// inbound request through httputil.ReverseProxy) does: no GetBody.
type opaqueBody struct{ r io.Reader }

func (b *opaqueBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *opaqueBody) Close() error               { return nil }

// TestReplayKeepDecidedAtConn: once its connection is known, and before
// the base reads it there, a body is kept only where a replay after bytes
// were written is possible: an HTTP/1 POST without a hook keeps what
// net/http can read before its first write and gives its chunks back as
// soon as it streams past that; a PUT, a POST a hook may retry and a POST
// on HTTP/2 keep it all, up to BodyLimit.
func TestReplayKeepDecidedAtConn(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	h1 := httptest.NewServer(handler)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(handler)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	h2base := http.DefaultTransport.(*http.Transport).Clone()
	h2base.TLSClientConfig = h2.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	h2base.ForceAttemptHTTP2 = true
	h1tls := h2base.Clone()
	h1tls.ForceAttemptHTTP2 = false
	h1tls.TLSClientConfig.NextProtos = []string{"http/1.1"}

	allow := func(retry.Attempt) bool { return true }
	body := bytes.Repeat([]byte("k"), 64<<10)
	tests := []struct {
		name   string
		method string
		url    string
		base   *http.Transport
		hook   retry.Hook
		kept   bool // the whole body is kept
	}{
		{"POST on HTTP/1", http.MethodPost, h1.URL, nil, nil, false},
		{"POST on HTTP/1 over TLS", http.MethodPost, h2.URL, h1tls, nil, false},
		{"PUT on HTTP/1", http.MethodPut, h1.URL, nil, nil, true},
		{"POST with a hook on HTTP/1", http.MethodPost, h1.URL, nil, allow, true},
		{"POST on HTTP/2", http.MethodPost, h2.URL, h2base, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.base != nil {
				opts = append(opts, WithBase(tt.base))
			}
			tr := New(opts...)
			t.Cleanup(tr.CloseIdleConnections)
			ctx := context.Background()
			if tt.hook != nil {
				ctx = retry.WithHook(ctx, tt.hook)
			}
			req, _ := http.NewRequestWithContext(ctx, tt.method, tt.url, &opaqueBody{bytes.NewReader(body)})
			req.ContentLength = int64(len(body))
			l := tr.newLoop(req)
			first := l.prepare()
			resp, tel, err := tr.roundTripOnce(first, 1, l.idempotent)
			if err != nil {
				t.Fatal(err)
			}
			endFailed(tel, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if (resp.ProtoMajor == 2) != (tt.base == h2base) {
				t.Fatalf("the response came over %s; the scenario is broken", resp.Proto)
			}
			b := l.body
			b.mu.Lock()
			size, over, released := b.size, b.over, b.released
			b.mu.Unlock()
			if tt.kept && (over || size != int64(len(body))) {
				t.Errorf("kept %d bytes, over %v; want the whole body kept", size, over)
			}
			if !tt.kept && (!over || !released || size > h1Unwritten(tr.base, req.ContentLength)) {
				t.Errorf("kept %d bytes, over %v, released %v; want at most %d, the chunks back", size, over, released, h1Unwritten(tr.base, req.ContentLength))
			}
			l.body.finish(false)
		})
	}
}
