package transport_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// payload512K is the body of the gateway benchmarks, built once.
var payload512K = bytes.Repeat([]byte("g"), 512<<10)

// heapPeak samples the heap in use (runtime.MemStats.HeapInuse, read
// through runtime/metrics, which stops no goroutine) until stopped, and
// returns the highest sample.
func heapPeak() (stop func() uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			peak = max(peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkGateway512K sends 512 KiB bodies from 64 goroutines through an
// httputil.ReverseProxy whose transport is the bare one or ours, to a
// backend that drains them: the gateway's outbound requests have no
// GetBody. A POST under the default policy on HTTP/1 can be replayed only
// when nothing was written, so next to nothing is kept; a PUT is kept
// whole. It reports B/op and allocs/op of the whole process (client,
// gateway, backend) and the peak heap in use.
func BenchmarkGateway512K(b *testing.B) {
	backend := benchServer(b)
	target, _ := url.Parse(backend.URL)
	for _, rt := range roundTrippers() {
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			b.Run(rt.name+"/method="+method, func(b *testing.B) {
				tr := rt.new()
				gw := httptest.NewServer(&httputil.ReverseProxy{
					Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
					Transport: tr,
				})
				defer gw.Close()
				defer tr.(interface{ CloseIdleConnections() }).CloseIdleConnections()
				c := &http.Client{Transport: baseTransport()}
				defer c.CloseIdleConnections()
				build := func(u string) (*http.Request, error) {
					return http.NewRequest(method, u, bytes.NewReader(payload512K))
				}
				roundTrip(b, c, gw.URL, build) // warm the pools
				runtime.GC()
				b.ReportAllocs()
				b.SetBytes(int64(len(payload512K)))
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((goroutines + procs - 1) / procs)
				stop := heapPeak()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						roundTrip(b, c, gw.URL, build)
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
			})
		}
	}
}

// BenchmarkPut5M sends a 5 MiB body without GetBody: past BodyLimit
// (1 MiB) it streams through, and what was kept goes back to the pool.
func BenchmarkPut5M(b *testing.B) {
	srv := benchServer(b)
	payload := bytes.Repeat([]byte("5"), 5<<20)
	build := func(u string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPut, u, io.NopCloser(bytes.NewReader(payload)))
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(payload))
		return req, nil
	}
	for _, rt := range roundTrippers() {
		b.Run(rt.name, func(b *testing.B) {
			c := &http.Client{Transport: rt.new()}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				roundTrip(b, c, srv.URL, build)
			}
		})
	}
}
