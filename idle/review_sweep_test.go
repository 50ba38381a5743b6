package idle_test

import (
	"math/rand/v2"
	"testing"
	"time"
)

// A server that sweeps its idle connections once a second (Tomcat's NIO
// poller, 20 s connectionTimeout) closes a connection idle for T=20 s
// anywhere in [T, T+1s). Three closes agree within 50 ms about one time
// in 140, but the ring slides: each new close makes a new triple when
// closes come less often than TTL/3 (a quiet backend, or one whose
// retired connections are watched now and then). Over days a triple
// agrees by chance, and the margin then sets a limit past T: any reuse
// between T and the limit fails when the sweep comes first.
func TestHostileSweepAgreesByChanceOverTime(t *testing.T) {
	const key = "http://tomcat:80"
	const T = 20 * s
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1000, 0)
	tr := fakeClock(&now)
	episodes, closes := 0, 2000 // about four and a half days
	over := false
	for range closes {
		now = now.Add(150*s + time.Duration(rng.Int64N(int64(100*s))))
		tr.ObserveWatchedClose(key, T+time.Duration(rng.Int64N(int64(s))))
		l := tr.Limit(key).Timeout
		if l > T && !over {
			episodes++
		}
		over = l > T
	}
	if episodes > 0 {
		t.Fatalf("%d times in %d closes (%v) the limit rose past the %v the server may close at", episodes, closes, time.Duration(closes)*200*s, T)
	}
}
