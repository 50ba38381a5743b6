package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain serves as the child when a -server=child run re-executes the
// test binary, and otherwise checks that every run leaves no goroutine
// behind.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		serveMain(os.Args[2:])
		return
	}
	goleak.VerifyTestMain(m)
}

// TestRun runs a short benchmark in each server placement and checks that
// the report has a row per round tripper in a table per workload.
func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		server  string
		latency time.Duration
	}{
		{name: "inproc", server: "inproc"},
		{name: "child", server: "child"},
		{name: "inproc relay", server: "inproc", latency: time.Millisecond},
		{name: "child relay", server: "child", latency: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config{server: tt.server, latency: tt.latency, getRounds: 20, postRounds: 10, warmup: 10, allocs: 5, runs: 2, workloads: "get,post"}
			if err := c.complete(); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := run(&out, c); err != nil {
				t.Fatal(err)
			}
			report := out.String()
			if !strings.Contains(report, "-seed=") {
				t.Errorf("report has no seed:\n%s", report)
			}
			// A row per workload and run, and one per workload in the
			// summary of the runs.
			want := 2*c.runs + 2
			for _, rt := range roundTrippers() {
				if n := strings.Count(report, "| "+rt.name+" |"); n != want {
					t.Errorf("%d rows for %s, want %d:\n%s", n, rt.name, want, report)
				}
			}
		})
	}
}
