package transport

import (
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/resilient-http/resilient/idle"
)

// Handler returns an http.Handler that shows what the Transport knows, as
// net/http/pprof and expvar do for a process: each backend's effective
// idle limit, where it came from and the evidence behind it, its retry
// budget's tokens, and the last 64 failed attempts with their stage and
// kind (kept only when an attempt fails: the success path pays nothing).
// It serves HTML to a person, and JSON to a machine that asks with
// ?format=json or Accept: application/json. Mount it where you choose,
// behind what protects your other debug pages:
//
//	mux.Handle("/debug/resilient", tr.Handler())
//
// It shows no secrets of the requests: failures are named by backend
// ("scheme://host:port"), without path, query, user info or headers. What
// a backend sent (error text) is escaped: it is hostile input.
func (t *Transport) Handler() http.Handler {
	return http.HandlerFunc(t.serveView)
}

// view is what Handler shows.
type view struct {
	Now      time.Time     `json:"now"`
	Backends []backendView `json:"backends"`
	Failures []failure     `json:"failures"`
}

// backendView is one backend: what the idle tracker learned of it, and
// its retry budget.
type backendView struct {
	idle.Learned
	BudgetTokens float64 `json:"budget_tokens"`
}

func (t *Transport) snapshot() view {
	learned := map[string]idle.Learned{}
	for _, l := range t.idle.Export() {
		learned[l.Key] = l
	}
	v := view{Now: time.Now(), Failures: t.failures.recent()}
	// Range also lists the backends with nothing learned: a configured
	// limit, or none yet.
	t.idle.Range(func(key string, l idle.Limit) {
		b, ok := learned[key]
		if !ok {
			b = idle.Learned{Key: key, MaxRequests: l.MaxRequests}
		}
		b.Limit, b.Source = l.Timeout, l.Source
		v.Backends = append(v.Backends, backendView{Learned: b, BudgetTokens: t.budget.Tokens(key)})
	})
	slices.SortFunc(v.Backends, func(a, b backendView) int { return strings.Compare(a.Key, b.Key) })
	return v
}

func (t *Transport) serveView(w http.ResponseWriter, r *http.Request) {
	v := t.snapshot()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w) // escapes <, > and & too
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = viewPage.Execute(w, v)
}

// wantsJSON reports whether the request asks for JSON.
func wantsJSON(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "json"
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

// viewPage is the HTML of Handler: html/template escapes everything it
// prints, the error texts backends shaped included.
var viewPage = template.Must(template.New("view").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return d.Round(time.Millisecond).String()
	},
	"clock": func(at time.Time) string {
		if at.IsZero() {
			return "-"
		}
		return at.Format("15:04:05.000")
	},
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>resilient transport</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}</style>
</head><body>
<h1>resilient transport</h1>
<p>At {{.Now.Format "2006-01-02 15:04:05.000 MST"}}. <a href="?format=json">JSON</a></p>
<h2>Backends</h2>
{{if .Backends}}<table>
<tr><th>backend</th><th>idle limit</th><th>source</th><th>changes at</th><th>evidence</th><th>advertised</th><th>retry budget tokens</th></tr>
{{range .Backends}}<tr><td>{{.Key}}</td><td>{{ms .Limit}}</td><td>{{.Source}}</td><td>{{clock .Expires}}</td>
<td>{{range .Evidence}}{{.Kind}} after {{ms .Idle}}, seen {{clock .Seen}}, expires {{clock .Expires}}<br>{{else}}-{{end}}</td>
<td>{{with .Advertised}}{{if .HasTimeout}}timeout {{.Timeout}}{{end}}{{if .MaxRequests}} max {{.MaxRequests}}{{end}}{{else}}-{{end}}</td>
<td>{{printf "%.1f" .BudgetTokens}}</td></tr>
{{end}}</table>{{else}}<p>No backend yet.</p>{{end}}
<h2>Recent failures</h2>
{{if .Failures}}<table>
<tr><th>at</th><th>backend</th><th>method</th><th>stage</th><th>kind</th><th>reused</th><th>idle for</th><th>error</th></tr>
{{range .Failures}}<tr><td>{{clock .At}}</td><td>{{.Backend}}</td><td>{{.Method}}</td><td>{{.Stage}}</td><td>{{.Kind}}</td><td>{{.Reused}}</td><td>{{ms .IdleFor}}</td><td>{{.Error}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
</body></html>
`))
