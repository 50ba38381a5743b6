package transport

import "time"

// watchStalls measures how late this process runs: a goroutine asks for a
// 5 ms wait again and again and keeps the worst lateness. A loaded machine
// (other test binaries, -race) fires timers and runs goroutines late, and
// a test whose bound is a time can allow for it. stop ends the watch and
// returns the worst lateness seen.
func watchStalls() (stop func() time.Duration) {
	stalls := make(chan time.Duration, 1)
	quit := make(chan struct{})
	go func() {
		var worst time.Duration
		defer func() { stalls <- worst }()
		for {
			start := time.Now()
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
			worst = max(worst, time.Since(start)-5*time.Millisecond)
		}
	}()
	return func() time.Duration {
		close(quit)
		return <-stalls
	}
}
