package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/resilient-http/resilient/transport"
)

func ExampleNew() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer backend.Close()

	rt := transport.New()
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: rt}

	resp, err := client.Get(backend.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello
}

// A failed attempt says how far it got. Here nothing listens on the port,
// so the request never left the client and is safe to send again.
func ExampleAttemptError() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()

	client := &http.Client{Transport: transport.New()}
	_, err := client.Post("http://"+addr+"/orders", "application/json", strings.NewReader(`{"id":1}`))

	var ae *transport.AttemptError
	if errors.As(err, &ae) {
		fmt.Println("stage:", ae.Stage)
		fmt.Println("kind:", ae.Kind)
		fmt.Println("reused:", ae.Reused)
	}
	fmt.Println("dial failure:", errors.Is(err, transport.ErrDial))
	fmt.Println("safe to repeat:", errors.Is(err, transport.ErrUnprocessed))
	fmt.Println("reset before headers:", errors.Is(err, transport.ErrResetBeforeHeaders))
	// Output:
	// stage: not_connected
	// kind: dial
	// reused: false
	// dial failure: true
	// safe to repeat: true
	// reset before headers: false
}

// A gateway puts the Transport under httputil.ReverseProxy; its error
// handler can tell the client whether the backend ever saw the request.
func Example_reverseProxy() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from the backend")
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)

	rt := transport.New()
	defer rt.CloseIdleConnections()
	gateway := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: rt,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			if errors.Is(err, transport.ErrResetBeforeHeaders) {
				status = http.StatusServiceUnavailable
			}
			w.WriteHeader(status)
		},
	})
	defer gateway.Close()

	client := gateway.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(gateway.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 from the backend
}
