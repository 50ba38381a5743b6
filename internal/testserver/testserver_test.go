package testserver_test

import (
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/resilient-http/resilient/internal/testserver"
)

func TestServersAnswer(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) *url.URL
	}{
		{"node", func(t *testing.T) *url.URL { return testserver.Node(t, time.Second) }},
		{"nginx", func(t *testing.T) *url.URL { return testserver.Nginx(t, time.Second, true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.start(t)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(u.String())
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", u, resp.StatusCode)
			}
		})
	}
}

// TestStopStart stops every server, checks that its address refuses
// connections, starts it again and checks that it answers on the same
// address with its ledger intact.
func TestStopStart(t *testing.T) {
	for _, name := range testserver.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := testserver.Start(t, name, time.Minute)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			get := func(id string) error {
				req, err := http.NewRequest(http.MethodGet, b.URL.String()+"/", nil)
				if err != nil {
					return err
				}
				req.Header.Set("X-Request-Id", id)
				resp, err := c.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				_, err = io.Copy(io.Discard, resp.Body)
				return err
			}
			if err := get("before"); err != nil {
				t.Fatalf("before Stop: %v", err)
			}
			b.Stop(t)
			if conn, err := net.Dial("tcp", b.URL.Host); err == nil {
				_ = conn.Close()
				t.Errorf("dial %s succeeded while stopped", b.URL.Host)
			}
			if got := b.Runs(t, "before"); got != 1 {
				t.Errorf("while stopped: request ran %d times, want 1", got)
			}
			b.Start(t)
			if err := get("after"); err != nil {
				t.Fatalf("after Start: %v", err)
			}
			b.Restart(t)
			want := map[string]int{"before": 1, "after": 1}
			if got := b.Ledger(t); !maps.Equal(got, want) {
				t.Errorf("ledger after Stop, Start and Restart: %v, want %v", got, want)
			}
		})
	}
}

// TestApacheAdvertisesWhenAsked pins the Apache behaviour the idle
// tracker depends on: httpd sends Keep-Alive: timeout=N, max=M only to a
// request that says Connection: keep-alive, and counts max down per
// connection.
func TestApacheAdvertisesWhenAsked(t *testing.T) {
	b := testserver.ApacheBackend(t, 2*time.Second, 5)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	keepAlive := func(ask bool) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, b.URL.String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ask {
			req.Header.Set("Connection", "keep-alive")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", b.URL, err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("read body: %v", err)
		}
		return resp.Header.Get("Keep-Alive")
	}
	if got := keepAlive(false); got != "" {
		t.Errorf("without Connection: keep-alive, Keep-Alive = %q, want none", got)
	}
	// The first request took 1 of the connection's 5.
	if got, want := keepAlive(true), "timeout=2, max=4"; got != want {
		t.Errorf("with Connection: keep-alive, Keep-Alive = %q, want %q", got, want)
	}
	b.Restart(t)
	tr.CloseIdleConnections()
	if got, want := keepAlive(true), "timeout=2, max=5"; got != want {
		t.Errorf("after a restart, Keep-Alive = %q, want %q", got, want)
	}
}
