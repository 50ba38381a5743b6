// Command bench measures what each resilient round tripper costs on top of a
// bare http.Transport, beside go-retryablehttp and failsafe-go, so that the
// README's performance table can be rerun by anyone:
//
//	cd internal/bench && go run .                       # server in this process
//	cd internal/bench && go run . -server=child         # server in a child process
//	cd internal/bench && go run . -latency=1ms          # through a relay adding 1 ms each way
//	cd internal/bench && go run . -runs=3               # three runs, then the ratios of each
//
// Each round sends one request through every round tripper, in an order
// shuffled afresh per round, and times each end to end (response body read
// and closed), so a noisy machine slows all of them alike. Every round
// tripper has its own clone of the same base transport. The report gives,
// per round tripper, the median time, the ratio of its median to the bare
// transport's, and the median of the per-round ratios to the bare
// transport; a second bare transport is the noise control, whose ratios
// show how far apart two identical transports land.
//
// Allocations are counted apart from the timed rounds, in a sequential
// loop per round tripper, from runtime.MemStats. With -server=inproc the
// server's allocations are counted too, so the table also gives each round
// tripper's difference from the bare transport; with -server=child the
// server runs in a child process (this binary, re-executed) and the counts
// are the client's alone.
//
// The module is nested, with its own go.mod, so that neither peer ever
// enters the library's go.mod.
package main
