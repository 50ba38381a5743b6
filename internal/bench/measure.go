package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"time"
)

// workload is one kind of request.
type workload struct {
	name       string
	newRequest func(url string) (*http.Request, error)
}

// payload is the body of every POST: 64 KiB, built once.
var payload = bytes.Repeat([]byte("x"), 64<<10)

var workloads = map[string]workload{
	"get": {name: "5-byte GET", newRequest: func(url string) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, url, nil)
	}},
	// http.NewRequest sets GetBody for a bytes.Reader, so a round tripper
	// that can replay the body from it needs no copy.
	"post": {name: "64 KiB POST with GetBody", newRequest: func(url string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		return req, nil
	}},
}

// allocPasses is how many times each contender's allocations are counted.
const allocPasses = 3

// result is one contender's measurements in one workload.
type result struct {
	name         string
	took         []time.Duration // per timed round, in round order
	allocsPerOp  float64
	bytesPerOp   float64
	medianNs     float64
	ratioMedians float64 // its median over the bare transport's
	pairedRatio  float64 // median over rounds of its time over the bare transport's
}

// send sends one request and reads and closes the response; the time
// covers everything but building the request, which is the same for all.
func send(c *http.Client, wl workload, url string) (time.Duration, error) {
	req, err := wl.newRequest(url)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	return took, nil
}

// measure runs warmup and then rounds interleaved rounds of wl, each
// through every contender in a fresh random order, then counts each
// contender's allocations over allocs sequential requests, allocPasses
// times.
func measure(wl workload, srv *server, rounds, warmup, allocs int, rng *rand.Rand) ([]result, error) {
	rts := roundTrippers()
	defer func() {
		for _, rt := range rts {
			rt.close()
		}
	}()
	res := make([]result, len(rts))
	for i, rt := range rts {
		res[i] = result{name: rt.name, took: make([]time.Duration, 0, rounds)}
	}
	order := make([]int, len(rts))
	for i := range order {
		order[i] = i
	}
	for r := range warmup + rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			took, err := send(rts[k].client, wl, srv.timedURL)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rts[k].name, err)
			}
			if r >= warmup {
				res[k].took = append(res[k].took, took)
			}
		}
	}

	// One request each first, so that the direct address's connection is
	// dialled outside the count. Then allocPasses passes, the contenders
	// in turn, keeping each one's lowest count: whatever else allocates in
	// the process (the runtime, a server sharing it) only ever adds.
	for _, rt := range rts {
		if _, err := send(rt.client, wl, srv.allocURL); err != nil {
			return nil, fmt.Errorf("%s: %w", rt.name, err)
		}
	}
	for pass := range allocPasses {
		for i, rt := range rts {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range allocs {
				if _, err := send(rt.client, wl, srv.allocURL); err != nil {
					return nil, fmt.Errorf("%s: %w", rt.name, err)
				}
			}
			runtime.ReadMemStats(&after)
			a := float64(after.Mallocs-before.Mallocs) / float64(allocs)
			b := float64(after.TotalAlloc-before.TotalAlloc) / float64(allocs)
			if pass == 0 || a < res[i].allocsPerOp {
				res[i].allocsPerOp = a
			}
			if pass == 0 || b < res[i].bytesPerOp {
				res[i].bytesPerOp = b
			}
		}
	}

	bare := res[0].took
	bareMedian := median(bare)
	ratios := make([]float64, rounds)
	for i := range res {
		m := median(res[i].took)
		res[i].medianNs = m
		res[i].ratioMedians = m / bareMedian
		for r := range rounds {
			ratios[r] = float64(res[i].took[r]) / float64(bare[r])
		}
		res[i].pairedRatio = median(ratios)
	}
	return res, nil
}

// median returns the median of xs without reordering them.
func median[T time.Duration | float64](xs []T) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}

// report writes res as a markdown table. The differences to the bare
// transport's allocations are what a contender adds when the server shares
// the process and its allocations count in the totals.
func report(out io.Writer, res []result, inproc bool) {
	who := "client only"
	if inproc {
		who = "client + server"
	}
	fmt.Fprintf(out, "| round tripper | median ns/req | ratio of medians | median paired ratio | allocs/op (%s) | B/op (%s) | allocs/op over bare | B/op over bare |\n", who, who)
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|")
	bare := res[0]
	for _, r := range res {
		fmt.Fprintf(out, "| %s | %.0f | %.3f | %.3f | %.1f | %.0f | %+.1f | %+.0f |\n",
			r.name, r.medianNs, r.ratioMedians, r.pairedRatio, r.allocsPerOp, r.bytesPerOp,
			r.allocsPerOp-bare.allocsPerOp, r.bytesPerOp-bare.bytesPerOp)
	}
}

// summary writes the ratio of medians of every round tripper in every run
// (ratios[run][round tripper], in the order of names) as a markdown table,
// with their range.
func summary(out io.Writer, names []string, ratios [][]float64) {
	fmt.Fprint(out, "| round tripper |")
	for i := range ratios {
		fmt.Fprintf(out, " run %d |", i+1)
	}
	fmt.Fprintln(out, " range |")
	fmt.Fprint(out, "|---|")
	for range ratios {
		fmt.Fprint(out, "---:|")
	}
	fmt.Fprintln(out, "---:|")
	for k, name := range names {
		fmt.Fprintf(out, "| %s |", name)
		lo, hi := ratios[0][k], ratios[0][k]
		for _, run := range ratios {
			fmt.Fprintf(out, " %.3f |", run[k])
			lo, hi = min(lo, run[k]), max(hi, run[k])
		}
		fmt.Fprintf(out, " %.3f-%.3f |\n", lo, hi)
	}
}
