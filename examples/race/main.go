// Command race shows the keep-alive race: a backend that closes idle
// connections after a short timeout, and requests spaced around it. A bare
// http.Transport reuses connections the backend is closing; transport.New
// learns the backend's timeout and closes its connections first.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"time"

	"github.com/resilient-http/resilient/transport"
)

const (
	backendIdle = 300 * time.Millisecond
	requests    = 16
)

func main() {
	// A silent backend: Go's http.Server advertises no Keep-Alive header.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = backendIdle
	srv.Start()
	defer srv.Close()

	bare := http.DefaultTransport.(*http.Transport).Clone()
	res := transport.New()
	run("bare http.Transport", bare, srv.URL)
	run("transport.New()", res, srv.URL)
	fmt.Printf("resilient idle limit learned: %+v\n", res.IdleLimit(mustURL(srv.URL)))
}

func run(name string, rt http.RoundTripper, url string) {
	byClass := map[string]int{}
	ok := 0
	for i := range requests {
		// Spaced uniformly around the backend's idle timeout.
		time.Sleep(backendIdle - 30*time.Millisecond + time.Duration(i%7)*10*time.Millisecond)
		method := http.MethodGet
		if i%2 == 1 {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, url, strings.NewReader("payload"))
		if err != nil {
			log.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			byClass[class(method, err)]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		ok++
	}
	fmt.Printf("%-20s %2d/%d ok\n", name, ok, requests)
	for c, n := range byClass {
		fmt.Printf("    %3d x %s\n", n, c)
	}
}

// class names a failure by what the transport can prove about it.
func class(method string, err error) string {
	var ae *transport.AttemptError
	switch {
	case errors.Is(err, transport.ErrServerClosedIdle):
		return method + ": server closed idle connection"
	case errors.Is(err, transport.ErrResetBeforeHeaders):
		return method + ": reset before headers"
	case errors.As(err, &ae):
		return fmt.Sprintf("%s: %v at stage %v", method, ae.Kind, ae.Stage)
	default:
		return method + ": " + err.Error()
	}
}

func mustURL(s string) *neturl.URL {
	u, err := neturl.Parse(s)
	if err != nil {
		log.Fatal(err)
	}
	return u
}
