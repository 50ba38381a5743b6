package transport

import (
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// recentFailures is how many failed attempts a Transport keeps for its
// [Transport.Handler].
const recentFailures = 64

// maxFailureText bounds the error text kept of a failure: enough to read
// the cause, not a backend's megabyte header.
const maxFailureText = 256

// failure is one failed attempt as the live view shows it. It holds no
// URL, only the backend's key, so no path, query or user info, and no
// header; Error is the base transport's text, in which a backend may have
// put anything (it is escaped where shown, and scrubbed of the request's
// query and user info).
type failure struct {
	At      time.Time     `json:"at"`
	Backend string        `json:"backend"`
	Method  string        `json:"method"`
	Stage   string        `json:"stage"`
	Kind    string        `json:"kind"`
	Reused  bool          `json:"reused"`
	IdleFor time.Duration `json:"idle_for"`
	Error   string        `json:"error"`
}

// failureRing keeps the last recentFailures failures of a Transport. Its
// zero value is ready; it allocates on the first failure, so the success
// path never touches it.
type failureRing struct {
	mu   sync.Mutex
	buf  []failure
	next int // where the next failure goes once buf is full
}

// record adds the failure e of an attempt of req. It runs only when an
// attempt failed.
func (a *attemptTrace) record(e *AttemptError) {
	f := failure{
		At: time.Now(), Method: a.req.Method,
		Stage: e.Stage.String(), Kind: e.Kind.String(), Reused: e.Reused, IdleFor: e.IdleFor,
	}
	if a.conn != nil && a.conn.key != "" {
		f.Backend = a.conn.key
	} else {
		f.Backend = a.t.keys.of(a.req.URL)
	}
	if e.Err != nil {
		f.Error = scrub(e.Err.Error(), a.req)
	}
	r := &a.t.failures
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < recentFailures {
		r.buf = append(r.buf, f)
		return
	}
	r.buf[r.next] = f
	r.next = (r.next + 1) % recentFailures
}

// recent returns the failures kept, newest first.
func (r *failureRing) recent() []failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]failure, 0, len(r.buf))
	for i := range len(r.buf) {
		// From the newest: just before next, wrapping.
		out = append(out, r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)])
	}
	return out
}

// scrub takes out of an error text the request's secrets that an error
// may quote (net/http's own never quote the URL, but a caller's dialer or
// proxy function may): the URL's query and user info, and the whole URL.
// It bounds the text to maxFailureText bytes of valid UTF-8.
func scrub(text string, req *http.Request) string {
	u := req.URL
	var secrets []string
	if u != nil {
		secrets = append(secrets, u.String(), u.RawQuery, u.Query().Encode())
		if u.User != nil {
			secrets = append(secrets, u.User.String(), u.User.Username())
			if p, ok := u.User.Password(); ok {
				secrets = append(secrets, p)
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	if len(text) > maxFailureText {
		text = text[:maxFailureText]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		text += "…"
	}
	return text
}
