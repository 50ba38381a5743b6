package idle_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// A process saves what its Tracker learned when it stops; the next one
// starts from it, and knows the silent backend's limit before its first
// request. An export that comes back damaged is rejected as a whole.
func ExampleTracker_Restore() {
	old := idle.NewTracker()
	old.ObserveClosedIdle("http://api:8080", 2*time.Second) // a silent backend closed an idle connection
	saved, _ := json.Marshal(old.Export())

	var learned []idle.Learned
	if err := json.Unmarshal(saved, &learned); err != nil {
		fmt.Println(err)
		return
	}
	fresh := idle.NewTracker()
	if err := fresh.Restore(learned); err != nil {
		fmt.Println(err)
		return
	}
	l := fresh.Limit("http://api:8080")
	fmt.Println(l.Timeout, l.Source)

	learned[0].Evidence[0].Idle = -time.Second
	fmt.Println(idle.NewTracker().Restore(learned))
	// Output:
	// 1.6s observed
	// idle: invalid learned entry 0 (key "http://api:8080"): evidence 0 (closed): idle -1s is not positive
}
