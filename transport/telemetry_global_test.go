package transport_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/resilient-http/resilient/transport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestGlobalProvidersInstalledAfterNew checks that a Transport made before
// the application installs its SDK globally (a package-level client, say)
// records through it afterwards. Installing global providers cannot be
// undone, so the test runs in a child process.
func TestGlobalProvidersInstalledAfterNew(t *testing.T) {
	if os.Getenv("RESILIENT_TEST_GLOBAL_OTEL") != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestGlobalProvidersInstalledAfterNew$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "RESILIENT_TEST_GLOBAL_OTEL=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestGlobalProvidersInstalledAfterNew")) {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	b := newTracedBackend(t, ok)
	tr := transport.New()
	t.Cleanup(tr.CloseIdleConnections)

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	otel.SetTextMapPropagator(propagation.TraceContext{})

	req, _ := http.NewRequest(http.MethodGet, b.srv.URL, nil)
	if err := send(t, tr, req); err != nil {
		t.Fatal(err)
	}
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	if got := b.traceparents(); got[0] != traceparent(ended[0].SpanContext()) {
		t.Errorf("server got traceparent %q, want %q", got[0], traceparent(ended[0].SpanContext()))
	}
	r := &rig{reader: reader}
	m, ok := findMetric(r.collect(t), "resilient.client.attempt.duration")
	if !ok || m.Data == nil {
		t.Error("no resilient.client.attempt.duration through the global meter provider")
	}
	_ = tp.Shutdown(context.Background())
}
