package transport_test

import (
	"net"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/resilient-http/resilient/transport"
)

// TestSpanNamesPublicErrorType: the exception a failed attempt's span
// records is named by the type users can import, never an internal one.
func TestSpanNamesPublicErrorType(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dial is refused

	spans := tracetest.NewSpanRecorder()
	rt := newTransport(t, transport.WithoutRetry(), transport.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want a refused dial")
	}
	var types []string
	for _, s := range spans.Ended() {
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				if kv.Key == "exception.type" {
					types = append(types, kv.Value.AsString())
				}
			}
		}
	}
	if len(types) != 1 || types[0] != "*transport.AttemptError" {
		t.Fatalf("exception types %q, want one *transport.AttemptError", types)
	}
}
