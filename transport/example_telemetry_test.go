package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/resilient-http/resilient/transport"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each attempt is a client span, a child of the caller's span; here the
// first attempt meets a connection the backend dropped and the retry
// carries http.request.resend_count. Without the options, the global
// providers (otel.SetTracerProvider, otel.SetMeterProvider) are used.
func ExampleWithTracerProvider() {
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tr := transport.New(transport.WithTracerProvider(tp))
	defer tr.CloseIdleConnections()

	ctx, caller := tp.Tracer("example").Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, backend.URL, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	caller.End()

	for _, s := range spans.Ended() {
		fmt.Print(s.Name(), " ", s.SpanKind())
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "http.request.resend_count", "http.response.status_code", "resilient.attempt.stage":
				fmt.Print(" ", kv.Key, "=", kv.Value.String())
			}
		}
		fmt.Println()
	}
	// Output:
	// GET client resilient.attempt.stage=request_written
	// GET client http.request.resend_count=1 http.response.status_code=204
	// caller internal
}
