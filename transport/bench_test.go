package transport_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/resilient-http/resilient/transport"
)

// The benchmarks come in pairs: the bare http.Transport and ours doing the
// same loopback request in the same run, so that benchstat shows the
// overhead as a ratio. Compare with:
//
//	for i in $(seq 10); do go test -run '^$' -bench 'Get|Post' -benchmem ./transport; done > new.txt
//	benchstat -col /rt new.txt

// goroutines is how many requests the parallel benchmarks keep in flight.
const goroutines = 64

// payload is the body of every POST: 64 KiB, built once.
var payload = bytes.Repeat([]byte("x"), 64<<10)

func benchServer(b testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("hello"))
	}))
	b.Cleanup(srv.Close)
	return srv
}

// baseTransport keeps as many idle connections as there are goroutines, so
// the parallel benchmarks measure requests rather than dials.
func baseTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = goroutines
	return t
}

func roundTrippers() []struct {
	name string
	new  func() http.RoundTripper
} {
	return []struct {
		name string
		new  func() http.RoundTripper
	}{
		{"rt=bare", func() http.RoundTripper { return baseTransport() }},
		{"rt=resilient", func() http.RoundTripper { return transport.New(transport.WithBase(baseTransport())) }},
	}
}

// newRequest builds one benchmarked request.
type newRequest func(url string) (*http.Request, error)

func getRequest(url string) (*http.Request, error) {
	return http.NewRequest(http.MethodGet, url, nil)
}

// post64KRequest sends the 64 KiB payload from a bytes.Reader, for which
// http.NewRequest sets GetBody, so the retry loop needs no buffering.
func post64KRequest(url string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return req, nil
}

func roundTrip(b *testing.B, c *http.Client, url string, build newRequest) {
	req, err := build(url)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// benchPair runs build's requests through each round tripper, sequentially
// or from 64 goroutines.
func benchPair(b *testing.B, parallel bool, build newRequest) {
	srv := benchServer(b)
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			c := &http.Client{Transport: rt.new()}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			if parallel {
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((goroutines + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						roundTrip(b, c, srv.URL, build)
					}
				})
				return
			}
			for b.Loop() {
				roundTrip(b, c, srv.URL, build)
			}
		})
	}
}

// benchInterleaved sends build's request through the bare transport and
// ours in turn (in the order ABBA, so neither always goes first) and times
// each, so that a noisy machine slows both alike. It reports each one's
// median and the overhead of ours in percent of the bare median: a paired
// measure, steadier than two benchmarks that ran at different moments.
func benchInterleaved(b *testing.B, build newRequest) {
	srv := benchServer(b)
	var clients [2]*http.Client
	for i, rt := range roundTrippers() {
		clients[i] = &http.Client{Transport: rt.new()}
		defer clients[i].CloseIdleConnections()
	}
	var took [2][]time.Duration
	for i := 0; b.Loop(); i++ {
		k := i % 2
		if i/2%2 == 1 {
			k = 1 - k
		}
		start := time.Now()
		roundTrip(b, clients[k], srv.URL, build)
		took[k] = append(took[k], time.Since(start))
	}
	bare, ours := median(took[0]), median(took[1])
	b.ReportMetric(float64(bare.Nanoseconds()), "bare-ns/req")
	b.ReportMetric(float64(ours.Nanoseconds()), "resilient-ns/req")
	b.ReportMetric(100*(float64(ours)/float64(bare)-1), "overhead-%")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func BenchmarkGet(b *testing.B)             { benchPair(b, false, getRequest) }
func BenchmarkGetParallel(b *testing.B)     { benchPair(b, true, getRequest) }
func BenchmarkPost64K(b *testing.B)         { benchPair(b, false, post64KRequest) }
func BenchmarkPost64KParallel(b *testing.B) { benchPair(b, true, post64KRequest) }

func BenchmarkGetInterleaved(b *testing.B)     { benchInterleaved(b, getRequest) }
func BenchmarkPost64KInterleaved(b *testing.B) { benchInterleaved(b, post64KRequest) }
