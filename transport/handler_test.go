package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// rawBackend serves every connection with reply: the bytes it writes after
// reading a request's headers, before closing.
func rawBackend(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				var got string
				for !strings.Contains(got, "\r\n\r\n") {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got += string(buf[:n])
				}
				_, _ = io.WriteString(c, reply)
			})
		}
	})
	return ln.Addr().String()
}

// fetchView gets the transport's live view through a real HTTP server, as
// HTML or, with accept, whatever that asks for.
func fetchView(t *testing.T, rt *Transport, query, accept string) (body, contentType string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/resilient", rt.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/debug/resilient"+query, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v %s", resp.Status, err, b)
	}
	c.CloseIdleConnections()
	return string(b), resp.Header.Get("Content-Type")
}

func TestHandlerEscapesWhatBackendsSent(t *testing.T) {
	const hostile = `<script>alert("x")</script>'"`
	addr := rawBackend(t, "HTTP/1.1 200 OK\r\n"+hostile+"\r\nContent-Length: 0\r\n\r\n")
	rt := New(WithoutRetry())
	t.Cleanup(rt.CloseIdleConnections)
	err := do(t, rt, http.MethodGet, &url.URL{Scheme: "http", Host: addr, Path: "/"})
	if err == nil || !strings.Contains(err.Error(), "<script>") {
		t.Fatalf("the backend's text did not reach the error: %v", err)
	}

	html, ct := fetchView(t, rt, "", "")
	if !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type %q", ct)
	}
	if strings.Contains(html, "<script") || strings.Contains(html, `alert("x")`) {
		t.Fatalf("raw backend text in the HTML:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Fatalf("the failure is not shown, escaped:\n%s", html)
	}
	for _, ask := range [][2]string{{"?format=json", ""}, {"", "application/json"}} {
		js, ct := fetchView(t, rt, ask[0], ask[1])
		if ct != "application/json" {
			t.Fatalf("%v: content type %q", ask, ct)
		}
		if strings.Contains(js, "<script") {
			t.Fatalf("%v: raw backend text in the JSON:\n%s", ask, js)
		}
		var v struct {
			Failures []struct{ Backend, Method, Stage, Kind, Error string }
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Failures) != 1 || v.Failures[0].Backend != "http://"+addr || v.Failures[0].Method != "GET" ||
			v.Failures[0].Kind == "" || !strings.Contains(v.Failures[0].Error, "<script>alert(") {
			t.Fatalf("%v: failures %+v", ask, v.Failures)
		}
	}
}

func TestHandlerShowsNoSecrets(t *testing.T) {
	addr := rawBackend(t, "") // closes without a response
	// A proxy function whose error quotes the whole URL, as a caller's
	// code may: what net/http's own errors never do.
	quoting := &http.Transport{Proxy: func(r *http.Request) (*url.URL, error) {
		return nil, fmt.Errorf("no proxy for %s (%s, %s)", r.URL, r.URL.RawQuery, r.URL.User)
	}}
	for name, base := range map[string]*http.Transport{"backend closes": nil, "error quotes the URL": quoting} {
		t.Run(name, func(t *testing.T) {
			rt := New(WithoutRetry(), WithBase(base))
			t.Cleanup(rt.CloseIdleConnections)
			req, _ := http.NewRequest(http.MethodGet, "http://user:pass@"+addr+"/path?token=secret", nil)
			req.Header.Set("Authorization", "Bearer headersecret")
			if err := doReq(rt, req); err == nil {
				t.Fatal("the request succeeded")
			}
			html, _ := fetchView(t, rt, "", "")
			js, _ := fetchView(t, rt, "?format=json", "")
			for name, body := range map[string]string{"HTML": html, "JSON": js} {
				if !strings.Contains(body, addr) {
					t.Errorf("%s does not show the failure:\n%s", name, body)
				}
				// "token=": the view says "budget tokens" of every backend it lists.
				for _, secret := range []string{"pass", "secret", "user", "token=", "/path", "Bearer"} {
					if strings.Contains(body, secret) {
						t.Errorf("%s shows %q:\n%s", name, secret, body)
					}
				}
			}
		})
	}
}

func TestHandlerShowsLimitsAndBudget(t *testing.T) {
	s := &lateCloser{dead: time.Hour}
	s.fin.Store(int64(200 * time.Millisecond))
	u := s.start(t)
	rt := New(WithHostIdleTimeout("http://configured.example:80", 5*time.Second))
	t.Cleanup(rt.CloseIdleConnections)
	if err := do(t, rt, http.MethodGet, u); err != nil {
		t.Fatal(err)
	}
	rt.IdleLimit(&url.URL{Scheme: "http", Host: "configured.example"})
	deadline := time.Now().Add(5 * time.Second)
	for rt.IdleLimit(u).Source != idle.SourceObserved {
		if time.Now().After(deadline) {
			t.Fatal("no limit learned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	js, _ := fetchView(t, rt, "?format=json", "")
	var v struct {
		Backends []struct {
			Key          string
			Limit        time.Duration
			Source       idle.Source
			Evidence     []idle.Evidence
			BudgetTokens float64 `json:"budget_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]idle.Source{idle.Key(u): idle.SourceObserved, "http://configured.example:80": idle.SourceConfigured}
	if len(v.Backends) != len(want) {
		t.Fatalf("backends %+v, want %v", v.Backends, want)
	}
	for _, b := range v.Backends {
		if want[b.Key] != b.Source || b.Limit <= 0 || b.BudgetTokens != 10 {
			t.Errorf("%+v", b)
		}
		if b.Source == idle.SourceObserved && (len(b.Evidence) != 1 || b.Evidence[0].Kind != idle.EvidenceClosed) {
			t.Errorf("%s: evidence %+v, want the close", b.Key, b.Evidence)
		}
	}
	html, _ := fetchView(t, rt, "", "")
	for _, s := range []string{idle.Key(u), "observed", "configured", "closed after"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML lacks %q:\n%s", s, html)
		}
	}
}

func TestHandlerKeepsLastFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // a closed port: every dial fails at once
	rt := New(WithoutRetry())
	t.Cleanup(rt.CloseIdleConnections)
	const n = recentFailures + 6
	for i := range n {
		req, _ := http.NewRequest(fmt.Sprint("M", i), "http://"+addr+"/", nil)
		if err := doReq(rt, req); err == nil {
			t.Fatal("a dial to a closed port succeeded")
		}
	}
	got := rt.failures.recent()
	if len(got) != recentFailures || got[0].Method != fmt.Sprint("M", n-1) || got[len(got)-1].Method != fmt.Sprint("M", n-recentFailures) {
		t.Fatalf("%d failures kept, newest %q, oldest %q", len(got), got[0].Method, got[len(got)-1].Method)
	}
	if got[0].Backend != "http://"+addr || got[0].Kind != "dial" {
		t.Fatalf("newest failure %+v, want a dial failure of http://%s", got[0], addr)
	}
}
