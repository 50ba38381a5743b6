package telemetry

import (
	"net/http"
	"testing"

	"github.com/resilient-http/resilient/idle"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// No test in this package installs global providers, so the defaults are
// the unset globals here.

// noLimits is a Limits with no backend.
type noLimits struct{}

func (noLimits) Limit(string) idle.Limit              { return idle.Limit{} }
func (noLimits) Range(func(key string, l idle.Limit)) {}

func TestTracingOn(t *testing.T) {
	sdk := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = sdk.Shutdown(t.Context()) })
	tests := []struct {
		name string
		cfg  Config
		want bool
	}{
		{"unset global", Config{}, false},
		{"noop provider", Config{TracerProvider: tracenoop.NewTracerProvider()}, false},
		{"SDK provider", Config{TracerProvider: sdk}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := New(tt.cfg, noLimits{})
			if got := tm.tracingOn(); got != tt.want {
				t.Errorf("tracingOn() = %v, want %v", got, tt.want)
			}
		})
	}
	if !isUnsetGlobal(otel.GetTracerProvider()) || isUnsetGlobal(sdk) {
		t.Error("isUnsetGlobal does not tell the unset global from an SDK")
	}
	// Once a provider is installed globally, otel.GetTracerProvider()
	// returns it and the unset global delegates to it: tracing starts.
	tm := &Telemetry{unsetGlobal: tracenoop.NewTracerProvider()}
	if !tm.tracingOn() {
		t.Error("tracing stays off after the global provider changed")
	}
}

// TestTelemetryOffAllocatesNothing covers what an attempt asks telemetry
// when nothing records.
func TestTelemetryOffAllocatesNothing(t *testing.T) {
	tm := New(Config{}, noLimits{})
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	r := req.WithContext(req.Context())
	resp := &http.Response{StatusCode: http.StatusOK}
	allocs := testing.AllocsPerRun(100, func() {
		a := tm.Start(req, 1)
		if a.Tracing() || !a.start.IsZero() {
			t.Fatal("telemetry records with the unset global providers")
		}
		a.Inject(r)
		a.Returned(Conn{Got: true}, resp, "")
		a.End()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per attempt, want 0", allocs)
	}
}

// BenchmarkTelemetryOff is what telemetry adds to an attempt with the
// unset global providers, without the network's noise.
func BenchmarkTelemetryOff(b *testing.B) {
	tm := New(Config{}, noLimits{})
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	r := req.WithContext(req.Context())
	resp := &http.Response{StatusCode: http.StatusOK}
	b.ReportAllocs()
	for b.Loop() {
		a := tm.Start(req, 1)
		if a.Tracing() || !a.start.IsZero() {
			b.Fatal("telemetry records with the unset global providers")
		}
		a.Inject(r)
		a.Returned(Conn{Got: true}, resp, "")
		a.End()
	}
}
