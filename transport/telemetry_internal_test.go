package transport

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// No test in this package installs global providers, so the defaults are
// the unset globals here.

func TestTracingOn(t *testing.T) {
	sdk := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = sdk.Shutdown(t.Context()) })
	tests := []struct {
		name string
		cfg  telemetryConfig
		want bool
	}{
		{"unset global", telemetryConfig{}, false},
		{"noop provider", telemetryConfig{tracerProvider: tracenoop.NewTracerProvider()}, false},
		{"SDK provider", telemetryConfig{tracerProvider: sdk}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := newTelemetry(tt.cfg, New().idle)
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
	tm := &telemetry{unsetGlobal: tracenoop.NewTracerProvider()}
	if !tm.tracingOn() {
		t.Error("tracing stays off after the global provider changed")
	}
}

// TestTelemetryOffAllocatesNothing covers what an attempt asks telemetry
// when nothing records.
func TestTelemetryOffAllocatesNothing(t *testing.T) {
	tr := New()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	r := req.WithContext(req.Context())
	allocs := testing.AllocsPerRun(100, func() {
		ctx, span := tr.tel.startAttempt(req, 1)
		if span != nil || tr.tel.duration.Enabled(ctx) {
			t.Fatal("telemetry records with the unset global providers")
		}
		tr.tel.inject(ctx, span, r)
		endFailed(span, nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per attempt, want 0", allocs)
	}
}

// BenchmarkTelemetryOff is what telemetry adds to an attempt with the
// unset global providers, without the network's noise.
func BenchmarkTelemetryOff(b *testing.B) {
	tr := New()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	r := req.WithContext(req.Context())
	b.ReportAllocs()
	for b.Loop() {
		ctx, span := tr.tel.startAttempt(req, 1)
		if span != nil || tr.tel.duration.Enabled(ctx) {
			b.Fatal("telemetry records with the unset global providers")
		}
		tr.tel.inject(ctx, span, r)
		endFailed(span, nil)
	}
}
