package testserver_test

import (
	"io"
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
