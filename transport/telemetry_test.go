package transport_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// rig is an SDK tracer and meter that keep what they record in memory.
type rig struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	logs   *logRecorder
}

func newRig(t *testing.T) *rig {
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), logs: &logRecorder{learned: make(chan struct{}, 16)}}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() { _ = r.tp.Shutdown(context.Background()) })
	return r
}

// options are the rig's transport options plus more.
func (r *rig) options(more ...transport.Option) []transport.Option {
	return append([]transport.Option{
		transport.WithTracerProvider(r.tp),
		transport.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))),
		transport.WithPropagators(propagation.TraceContext{}),
		transport.WithLogger(slog.New(r.logs)),
	}, more...)
}

// attempts returns the ended spans of our tracer, in the order they started.
func (r *rig) attempts() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.InstrumentationScope().Name == "github.com/resilient-http/resilient/transport" {
			out = append(out, s)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].StartTime().Before(out[j-1].StartTime()); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (r *rig) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// metric finds the named metric.
func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// sum adds up the points of a counter whose attributes include want.
func sum(rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	m, _ := findMetric(rm, name)
	s, _ := m.Data.(metricdata.Sum[int64])
	var n int64
	for _, p := range s.DataPoints {
		if hasAll(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// wantAttrs checks the span's attributes; a nil value means absent.
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := attr(s, k)
		switch {
		case w == nil && ok:
			t.Errorf("span %s: %s = %v, want none", s.Name(), k, v.String())
		case w != nil && !ok:
			t.Errorf("span %s: no %s, want %v", s.Name(), k, w)
		case w != nil && v.AsInterface() != w:
			t.Errorf("span %s: %s = %v (%T), want %v (%T)", s.Name(), k, v.AsInterface(), v.AsInterface(), w, w)
		}
	}
}

// logRecorder is an slog.Handler that keeps records and signals idle
// limit changes.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	learned chan struct{}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	if r.Message == "resilient: idle limit changed" {
		select {
		case h.learned <- struct{}{}:
		default:
		}
	}
	return nil
}

// find returns the attributes of the first record with message msg.
func (h *logRecorder) find(msg string) (map[string]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Message == msg {
			m := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
			return m, true
		}
	}
	return nil, false
}

// tracedBackend is a backend that records the traceparent of every request
// and answers the n-th (from 1) with the n-th step; the last step repeats.
type tracedBackend struct {
	srv *httptest.Server
	mu  sync.Mutex
	tps []string
}

func newTracedBackend(t *testing.T, steps ...step) *tracedBackend {
	b := &tracedBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		b.mu.Lock()
		b.tps = append(b.tps, r.Header.Get("traceparent"))
		n := len(b.tps)
		b.mu.Unlock()
		steps[min(n, len(steps))-1](w)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *tracedBackend) traceparents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.tps...)
}

// traceparent is what a span's context looks like on the wire.
func traceparent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// send runs one request through rt and reads its body to the end.
func send(t *testing.T, rt http.RoundTripper, req *http.Request) error {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func TestSpanPerAttempt(t *testing.T) {
	tests := []struct {
		name   string
		step   step
		status int
		errTyp any
	}{
		{"ok", ok, 200, nil},
		{"server error", status(500), 500, "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			b := newTracedBackend(t, tt.step)
			tr := transport.New(r.options()...)
			t.Cleanup(tr.CloseIdleConnections)
			ctx, parent := r.tp.Tracer("test").Start(context.Background(), "caller")
			for range 2 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.URL+"/p?q=1", nil)
				if err := send(t, tr, req); err != nil {
					t.Fatal(err)
				}
				if len(req.Header) != 0 {
					t.Fatalf("caller's request headers modified: %v", req.Header)
				}
			}
			parent.End()

			spans := r.attempts()
			if len(spans) != 2 {
				t.Fatalf("%d attempt spans, want 2", len(spans))
			}
			tps := b.traceparents()
			u := b.srv.Listener.Addr().(*net.TCPAddr)
			for i, s := range spans {
				if s.SpanKind() != trace.SpanKindClient || s.Name() != "GET" {
					t.Errorf("span %d: %v %q, want a client span GET", i, s.SpanKind(), s.Name())
				}
				if s.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("span %d: parent %v, want the caller's span", i, s.Parent().SpanID())
				}
				if tps[i] != traceparent(s.SpanContext()) {
					t.Errorf("attempt %d: server got traceparent %q, want %q", i, tps[i], traceparent(s.SpanContext()))
				}
				wantAttrs(t, s, map[string]any{
					"http.request.method":         "GET",
					"url.full":                    b.srv.URL + "/p?q=1",
					"server.address":              "127.0.0.1",
					"server.port":                 int64(u.Port),
					"http.response.status_code":   int64(tt.status),
					"error.type":                  tt.errTyp,
					"http.request.resend_count":   nil,
					"resilient.connection.reused": i == 1,
				})
				if wantErr := tt.status >= 400; (s.Status().Code == codes.Error) != wantErr {
					t.Errorf("span %d: status %v, want error %v", i, s.Status(), wantErr)
				}
			}
			rm := r.collect(t)
			m, _ := findMetric(rm, "resilient.client.attempt.duration")
			h, _ := m.Data.(metricdata.Histogram[float64])
			var n uint64
			for _, p := range h.DataPoints {
				n += p.Count
			}
			if n != 2 || m.Unit != "s" {
				t.Errorf("resilient.client.attempt.duration: %d attempts in %q, want 2 in s", n, m.Unit)
			}
		})
	}
}

func TestSpanOfFailedAttempt(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return "http://" + ln.Addr().String()
	}
	tests := []struct {
		name   string
		url    func(t *testing.T) string
		method string
		stage  string
		kind   string
	}{
		{"dial refused", refused, http.MethodGet, "not_connected", "dial"},
		{"reset after the request was read", func(t *testing.T) string { return newTracedBackend(t, reset).srv.URL }, http.MethodPost, "request_written", "reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			tr := transport.New(r.options(transport.WithoutRetry())...)
			t.Cleanup(tr.CloseIdleConnections)
			req, _ := http.NewRequest(tt.method, tt.url(t), strings.NewReader("x"))
			if err := send(t, tr, req); err == nil {
				t.Fatal("request succeeded, want an error")
			}
			spans := r.attempts()
			if len(spans) != 1 {
				t.Fatalf("%d ended attempt spans, want 1", len(spans))
			}
			s := spans[0]
			wantAttrs(t, s, map[string]any{
				"error.type":                tt.kind,
				"resilient.attempt.stage":   tt.stage,
				"resilient.attempt.kind":    tt.kind,
				"http.response.status_code": nil,
			})
			if s.Status().Code != codes.Error {
				t.Errorf("status %v, want error", s.Status())
			}
			rm := r.collect(t)
			if n := sum(rm, "resilient.client.attempt.failures", attribute.String("resilient.attempt.stage", tt.stage), attribute.String("resilient.attempt.kind", tt.kind)); n != 1 {
				t.Errorf("failures{%s,%s} = %d, want 1", tt.stage, tt.kind, n)
			}
		})
	}
}

// staleScenario sends a PUT that warms a connection, then a PUT that meets
// it stale: the backend resets the reused connection after reading the
// request. net/http does not retry a PUT; our policy does, at once, on a
// fresh connection.
func staleScenario(t *testing.T, r *rig, wrap func(http.RoundTripper) http.RoundTripper, ctx context.Context) *tracedBackend {
	t.Helper()
	b := newTracedBackend(t, ok, reset, ok)
	tr := transport.New(r.options()...)
	t.Cleanup(tr.CloseIdleConnections)
	rt := wrap(tr)
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, b.srv.URL, strings.NewReader("x"))
		if err := send(t, rt, req); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestStaleConnectionRetriedSpans(t *testing.T) {
	r := newRig(t)
	b := staleScenario(t, r, func(rt http.RoundTripper) http.RoundTripper { return rt }, context.Background())

	spans := r.attempts()
	if len(spans) != 3 {
		t.Fatalf("%d attempt spans, want 3 (warm-up, stale, retry)", len(spans))
	}
	stale, retried := spans[1], spans[2]
	wantAttrs(t, stale, map[string]any{
		"resilient.attempt.stage":     "request_written",
		"resilient.attempt.kind":      "reset",
		"resilient.connection.reused": true,
		"error.type":                  "reset",
		"http.request.resend_count":   nil,
	})
	wantAttrs(t, retried, map[string]any{
		"http.request.resend_count":   int64(1),
		"http.response.status_code":   int64(200),
		"resilient.connection.reused": false,
		"resilient.idle_limit.source": "observed",
		"error.type":                  nil,
	})
	if stale.SpanContext().TraceID() == retried.SpanContext().TraceID() {
		t.Error("the two requests without a parent share a trace")
	}
	var decision map[string]any
	for _, e := range stale.Events() {
		if e.Name == "resilient.retry_decision" {
			decision = map[string]any{}
			for _, kv := range e.Attributes {
				decision[string(kv.Key)] = kv.Value.AsInterface()
			}
		}
	}
	if decision["resilient.retry"] != "retry" || decision["resilient.retry.reason"] != "idempotent" ||
		decision["resilient.retry.delay"] != 0.0 || decision["resilient.retry.budget_tokens"] == nil {
		t.Errorf("retry decision event = %v, want an immediate idempotent retry with the budget", decision)
	}
	tps := b.traceparents()
	for i, s := range spans {
		if tps[i] != traceparent(s.SpanContext()) {
			t.Errorf("attempt %d: server got traceparent %q, want %q", i, tps[i], traceparent(s.SpanContext()))
		}
	}

	rm := r.collect(t)
	if n := sum(rm, "resilient.client.attempt.failures", attribute.String("resilient.attempt.stage", "request_written")); n != 1 {
		t.Errorf("failures at request_written = %d, want 1", n)
	}
	if n := sum(rm, "resilient.client.retries", attribute.String("resilient.retry.reason", "idempotent")); n != 1 {
		t.Errorf("retries{idempotent} = %d, want 1", n)
	}
	m, _ := findMetric(rm, "resilient.client.idle_limit")
	g, _ := m.Data.(metricdata.Gauge[float64])
	if len(g.DataPoints) != 1 || !hasAll(g.DataPoints[0].Attributes, []attribute.KeyValue{
		attribute.String("resilient.backend", b.srv.URL), attribute.String("resilient.idle_limit.source", "observed"),
	}) {
		t.Errorf("idle limit gauge = %+v, want the backend's observed limit", g.DataPoints)
	}
	if rec, ok := r.logs.find("resilient: retry decision"); !ok || rec["reason"] != "idempotent" || rec["decision"] != "retry" {
		t.Errorf("retry decision log = %v, want an idempotent retry", rec)
	}
	if rec, ok := r.logs.find("resilient: idle limit changed"); !ok || rec["source"] != "observed" {
		t.Errorf("idle limit log = %v, want an observed limit", rec)
	}
}

func TestUnderOtelhttp(t *testing.T) {
	r := newRig(t)
	ctx, root := r.tp.Tracer("test").Start(context.Background(), "caller")
	b := staleScenario(t, r, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(r.tp), otelhttp.WithPropagators(propagation.TraceContext{}))
	}, ctx)
	root.End()

	ended := r.spans.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var outer []sdktrace.ReadOnlySpan
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %s is in another trace", s.Name())
		}
		if s.InstrumentationScope().Name != "github.com/resilient-http/resilient/transport" && s.SpanKind() == trace.SpanKindClient {
			outer = append(outer, s)
		}
	}
	attempts := r.attempts()
	if len(outer) != 2 || len(attempts) != 3 || len(ended) != 6 {
		t.Fatalf("%d otelhttp spans, %d attempt spans, %d in all; want 2, 3 and 6", len(outer), len(attempts), len(ended))
	}
	for _, s := range outer {
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("otelhttp span's parent is %v, want the caller's", s.Parent().SpanID())
		}
	}
	// The second request's two attempts share its otelhttp span as parent.
	parents := map[trace.SpanID]int{}
	for _, s := range attempts {
		p, ok := byID[s.Parent().SpanID()]
		if !ok || p.InstrumentationScope().Name == s.InstrumentationScope().Name || p.SpanKind() != trace.SpanKindClient {
			t.Fatalf("attempt span's parent %v is not an otelhttp span", s.Parent().SpanID())
		}
		parents[p.SpanContext().SpanID()]++
	}
	if parents[attempts[1].Parent().SpanID()] != 2 || attempts[1].Parent().SpanID() != attempts[2].Parent().SpanID() {
		t.Errorf("stale attempt and its retry have parents %v and %v, want one otelhttp span", attempts[1].Parent().SpanID(), attempts[2].Parent().SpanID())
	}
	tps := b.traceparents()
	for i, s := range attempts {
		if tps[i] != traceparent(s.SpanContext()) {
			t.Errorf("attempt %d: server got traceparent %q, want our attempt's %q", i, tps[i], traceparent(s.SpanContext()))
		}
	}
}

// TestMetricsUnderOtelhttp checks that our telemetry composes with
// otelhttp's: under otelhttp.NewTransport(transport.New()), a request that
// took two attempts is one http.client.request.duration, in otelhttp's
// scope only, and two resilient.client.attempt.duration, in ours, with the
// semantic conventions' attributes; and no instrument name is in both
// scopes, so a dashboard that sums a metric by name counts nothing twice.
func TestMetricsUnderOtelhttp(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	b := newTracedBackend(t, status(http.StatusServiceUnavailable), ok)
	tr := transport.New(transport.WithMeterProvider(mp))
	t.Cleanup(tr.CloseIdleConnections)
	rt := otelhttp.NewTransport(tr, otelhttp.WithMeterProvider(mp))
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL, nil)
	if err := send(t, rt, req); err != nil {
		t.Fatal(err)
	}
	if n := len(b.traceparents()); n != 2 {
		t.Fatalf("backend got %d requests, want 2 attempts", n)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	const ours = "github.com/resilient-http/resilient/transport"
	scopes := map[string][]string{} // metric name -> the scopes that export it
	counts := map[string]uint64{}   // "scope name" -> histogram count
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			scopes[m.Name] = append(scopes[m.Name], sm.Scope.Name)
			h, isHist := m.Data.(metricdata.Histogram[float64])
			if !isHist {
				continue
			}
			for _, p := range h.DataPoints {
				counts[sm.Scope.Name+" "+m.Name] += p.Count
				if sm.Scope.Name != ours {
					continue
				}
				for _, k := range []attribute.Key{"http.request.method", "server.address", "server.port", "url.scheme", "http.response.status_code"} {
					if _, found := p.Attributes.Value(k); !found {
						t.Errorf("%s: a point without %s", m.Name, k)
					}
				}
			}
		}
	}
	for name, in := range scopes {
		if len(in) != 1 {
			t.Errorf("metric %s is exported by %d scopes %v, want 1", name, len(in), in)
		}
	}
	if in := scopes["http.client.request.duration"]; len(in) != 1 || in[0] != otelhttp.ScopeName {
		t.Errorf("http.client.request.duration exported by %v, want otelhttp's scope only", in)
	}
	if in := scopes["resilient.client.attempt.duration"]; len(in) != 1 || in[0] != ours {
		t.Errorf("resilient.client.attempt.duration exported by %v, want our scope only", in)
	}
	if n := counts[otelhttp.ScopeName+" http.client.request.duration"]; n != 1 {
		t.Errorf("otelhttp recorded %d request durations, want 1", n)
	}
	if n := counts[ours+" resilient.client.attempt.duration"]; n != 2 {
		t.Errorf("we recorded %d attempt durations, want 2", n)
	}
}

func TestRetryDeniedIsCounted(t *testing.T) {
	r := newRig(t)
	b := newTracedBackend(t, reset, ok)
	tr := transport.New(r.options()...)
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL, strings.NewReader("x"))
	if err := send(t, tr, req); !errors.Is(err, retry.ErrPolicy) {
		t.Fatalf("got %v, want the policy to deny the retry", err)
	}
	rm := r.collect(t)
	if n := sum(rm, "resilient.client.retries.denied", attribute.String("resilient.retry.denied_by", "policy"), attribute.String("resilient.retry.reason", "not_idempotent")); n != 1 {
		t.Errorf("retries denied by policy = %d, want 1", n)
	}
	if spans := r.attempts(); len(spans) != 1 || len(spans[0].Events()) == 0 {
		t.Fatalf("want one ended attempt span with the decision event, got %d spans", len(spans))
	}
}

func TestConnectionClosesAreCounted(t *testing.T) {
	tests := []struct {
		name   string
		server time.Duration // the backend's idle timeout; 0: none
		client time.Duration // our configured backend idle timeout; 0: none
		by     string
	}{
		{"by our idle limit", 0, 100 * time.Millisecond, "idle_limit"},
		{"by the server", 100 * time.Millisecond, 0, "server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			closed := make(chan struct{}, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) }))
			srv.Config.IdleTimeout = tt.server
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					select {
					case closed <- struct{}{}:
					default:
					}
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			var opts []transport.Option
			if tt.client > 0 {
				opts = append(opts, transport.WithBackendIdleTimeout(tt.client))
			}
			tr := transport.New(r.options(opts...)...)
			t.Cleanup(tr.CloseIdleConnections)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err := send(t, tr, req); err != nil {
				t.Fatal(err)
			}
			// Our close is counted before the socket closes; the server's
			// is counted before the limit it teaches is logged.
			seen := closed
			if tt.by == "server" {
				seen = r.logs.learned
			}
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection's close was not seen")
			}
			rm := r.collect(t)
			if n := sum(rm, "resilient.client.connection.closes", attribute.String("resilient.connection.closed_by", tt.by), attribute.String("resilient.backend", srv.URL)); n != 1 {
				t.Errorf("closes by %s = %d, want 1", tt.by, n)
			}
		})
	}
}

func TestSpanOverHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("traceparent"))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	r := newRig(t)
	tr := transport.New(r.options(transport.WithBase(base))...)
	t.Cleanup(tr.CloseIdleConnections)
	var got []string
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("got %s, want HTTP/2", resp.Proto)
		}
		got = append(got, string(b))
	}
	spans := r.attempts()
	if len(spans) != 2 {
		t.Fatalf("%d ended attempt spans, want 2 (they end with their bodies)", len(spans))
	}
	for i, s := range spans {
		wantAttrs(t, s, map[string]any{
			"network.protocol.version":    "2",
			"http.response.status_code":   int64(200),
			"resilient.connection.reused": i == 1,
		})
		if got[i] != traceparent(s.SpanContext()) {
			t.Errorf("attempt %d: server got traceparent %q, want %q", i, got[i], traceparent(s.SpanContext()))
		}
	}
}
