package transport_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/resilient-http/resilient/transport"
)

// The benchmarks come in pairs: the bare http.Transport and ours doing the
// same loopback request in the same run, so that benchstat shows the
// overhead as a ratio. Compare with:
//
//	go test -run '^$' -bench . -count 10 ./transport | tee new.txt
//	benchstat -col /rt new.txt

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("hello"))
	}))
	b.Cleanup(srv.Close)
	return srv
}

func roundTrippers() []struct {
	name string
	new  func() http.RoundTripper
} {
	return []struct {
		name string
		new  func() http.RoundTripper
	}{
		{"rt=bare", func() http.RoundTripper { return http.DefaultTransport.(*http.Transport).Clone() }},
		{"rt=resilient", func() http.RoundTripper { return transport.New() }},
	}
}

func get(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func BenchmarkGet(b *testing.B) {
	srv := benchServer(b)
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			tr := rt.new()
			c := &http.Client{Transport: tr}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				get(b, c, srv.URL)
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	srv := benchServer(b)
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			tr := rt.new()
			c := &http.Client{Transport: tr}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, c, srv.URL)
				}
			})
		})
	}
}

// BenchmarkPost sends a small body with GetBody set (as http.NewRequest
// does for bytes.Reader), so the retry loop needs no buffering.
func BenchmarkPost(b *testing.B) {
	srv := benchServer(b)
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			tr := rt.new()
			c := &http.Client{Transport: tr}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("payload"))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
