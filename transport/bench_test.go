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

// request is one benchmarked exchange.
type request func(c *http.Client, url string) (*http.Response, error)

func getRequest(c *http.Client, url string) (*http.Response, error) { return c.Get(url) }

// postRequest sends a small body with GetBody set (as http.NewRequest does
// for a strings.Reader), so the retry loop needs no buffering.
func postRequest(c *http.Client, url string) (*http.Response, error) {
	return c.Post(url, "text/plain", strings.NewReader("payload"))
}

func roundTrip(b *testing.B, c *http.Client, url string, do request) {
	resp, err := do(c, url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// benchPair runs do through each round tripper, sequentially or from
// GOMAXPROCS goroutines.
func benchPair(b *testing.B, parallel bool, do request) {
	srv := benchServer(b)
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			c := &http.Client{Transport: rt.new()}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						roundTrip(b, c, srv.URL, do)
					}
				})
				return
			}
			for b.Loop() {
				roundTrip(b, c, srv.URL, do)
			}
		})
	}
}

func BenchmarkGet(b *testing.B)         { benchPair(b, false, getRequest) }
func BenchmarkGetParallel(b *testing.B) { benchPair(b, true, getRequest) }
func BenchmarkPost(b *testing.B)        { benchPair(b, false, postRequest) }
