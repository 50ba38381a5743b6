package transport_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/resilient-http/resilient/idle"
	"github.com/resilient-http/resilient/transport"
)

// A process saves what its Transport learned when it stops, and the next
// starts from it: the silent backend's limit is known before the first
// request, which would otherwise learn it by failing.
func ExampleTransport_Restore() {
	// What an earlier process saw: the backend closed a connection idle
	// for 2 s. (It would save json.Marshal(tr.Learned()).)
	earlier := idle.NewTracker()
	earlier.ObserveClosedIdle("http://api:8080", 2*time.Second)
	saved, _ := json.Marshal(earlier.Export())

	var learned []idle.Learned
	if err := json.Unmarshal(saved, &learned); err != nil {
		fmt.Println(err)
		return
	}
	tr := transport.New()
	if err := tr.Restore(learned); err != nil {
		fmt.Println("starting afresh:", err)
	}
	l := tr.IdleLimit(&url.URL{Scheme: "http", Host: "api:8080"})
	fmt.Println(l.Timeout, l.Source)
	// Output: 1.6s observed
}

// The live view is mounted where the caller chooses, like
// net/http/pprof; a machine reads it as JSON.
func ExampleTransport_Handler() {
	tr := transport.New(transport.WithHostIdleTimeout("api:8080", 5*time.Second))
	tr.IdleLimit(&url.URL{Scheme: "http", Host: "api:8080"})

	mux := http.NewServeMux()
	mux.Handle("/debug/resilient", tr.Handler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/resilient?format=json", nil))

	var v struct {
		Backends []struct {
			Key          string        `json:"key"`
			Limit        time.Duration `json:"limit"`
			Source       idle.Source   `json:"source"`
			BudgetTokens float64       `json:"budget_tokens"`
		} `json:"backends"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range v.Backends {
		fmt.Println(b.Key, b.Limit, b.Source, b.BudgetTokens)
	}
	// Output: http://api:8080 4s configured 10
}
