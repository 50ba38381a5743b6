//go:build race

package transport

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// tests of reuse and allocation counts check less under it.
const raceEnabled = true
