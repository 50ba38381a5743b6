package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/resilient-http/resilient/internal/testserver"
	"github.com/resilient-http/resilient/transport"
)

// TestResetReused resets (RST, SetLinger(0)) a reused connection while it
// carries a request: before the server ran it (reset=before) and after
// (reset=after). The client cannot tell the two apart: both are a reset
// after the request was written, before any response byte. The servers
// are Go and Node.js; nginx and Apache answer their client 502 when the upstream
// resets, so the client side never sees the reset.
//
// Asserted, per case:
//   - transport.New, GET: no error; the request ran once (before) or twice
//     (after: a GET may run again, the method says so); two dials.
//   - transport.New, POST: the caller gets the error, an *AttemptError on a
//     reused connection at a stage where the request may have reached the
//     server; it ran zero times (before) or once (after): never repeated.
//   - transport.New with the StaleConnection hook and Idempotency-Key (the
//     caller opted in; the server de-duplicates by key), POST: no error;
//     it ran exactly once either way; two dials.
//   - the bare transport's POST ran at most once (logged, not asserted).
func TestResetReused(t *testing.T) {
	type want struct {
		ok   bool
		runs map[string]int // by reset mode
	}
	cases := []struct {
		client string
		method string
		want   want
	}{
		{"resilient", http.MethodGet, want{true, map[string]int{"before": 1, "after": 2}}},
		{"resilient", http.MethodPost, want{false, map[string]int{"before": 0, "after": 1}}},
		{"opt-in", http.MethodPost, want{true, map[string]int{"before": 1, "after": 1}}},
		{"bare", http.MethodGet, want{}},
		{"bare", http.MethodPost, want{}},
	}
	forEachServer(t, []string{"go", "node"}, func(t *testing.T, server string) {
		b := testserver.Start(t, server, 0)
		for _, mode := range []string{"before", "after"} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", mode, tc.client, tc.method), func(t *testing.T) {
					var c *client
					switch tc.client {
					case "bare":
						c = bare(t)
					case "resilient":
						c = resilient(t)
					case "opt-in":
						c = resilient(t, optIn())
					}
					ctx := context.Background()
					id := fmt.Sprintf("%s-%s-%s", mode, tc.client, tc.method)
					// The first request leaves one connection in the pool;
					// the second reuses it and is reset.
					if _, err := c.send(ctx, tc.method, b.URL.String()+"/", id+"-warm"); err != nil {
						t.Fatalf("warm-up: %v", err)
					}
					status, err := c.send(ctx, tc.method, b.URL.String()+"/?reset="+mode, id)
					runs, dials := b.Runs(t, id), c.dials.Load()
					t.Logf("%s reset=%s %s %s: status %d, err %v; ran %d, %d dials", server, mode, tc.client, tc.method, status, err, runs, dials)

					if tc.client == "bare" {
						if tc.method == http.MethodPost && runs > 1 {
							t.Errorf("bare POST ran %d times", runs)
						}
						return
					}
					if w := tc.want.runs[mode]; runs != w {
						t.Errorf("ran %d times, want %d", runs, w)
					}
					if dials > 2 {
						t.Errorf("%d dials, want at most 2", dials)
					}
					if tc.want.ok {
						if err != nil || status != http.StatusOK {
							t.Errorf("got status %d, err %v; want 200", status, err)
						}
						return
					}
					var ae *transport.AttemptError
					if !errors.As(err, &ae) {
						t.Fatalf("err = %v, want an *AttemptError", err)
					}
					if !ae.Reused || !ae.Stage.MayHaveReachedServer() {
						t.Errorf("attempt: reused %v, stage %v; want a reused connection, a stage that may have reached the server", ae.Reused, ae.Stage)
					}
					if !errors.Is(err, transport.ErrResetBeforeHeaders) {
						t.Errorf("err = %v, want it to match ErrResetBeforeHeaders", err)
					}
				})
			}
		}
	})
}
