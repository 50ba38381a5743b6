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
