package idle_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// Probe a Go server that closes connections idle for 200ms, silently, as
// Go's http.Server does.
func ExampleProbe() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := idle.Probe(ctx, srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("advertised:", res.Advertised.Header != "")
	fmt.Println("closed with:", res.Closed)
	fmt.Println("recommendation from:", res.Recommendation.From)
	fmt.Println("client closes first:", res.Recommendation.IdleTimeout < res.Measured)
	// Output:
	// advertised: false
	// closed with: fin
	// recommendation from: measured
	// client closes first: true
}
