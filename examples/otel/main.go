// Command otel shows the telemetry of transport.New on the stale
// connection scenario. An embedded backend resets a keep-alive connection
// the moment a second request arrives on it, as a backend does when it has
// just closed the connection for being idle. The client, wrapped in
// otelhttp as a service would be, sends two PUTs: the second meets the
// stale connection, fails after writing its request, and is retried at
// once on a fresh connection. The spans (one per attempt, under
// otelhttp's span), the log of the retry decision and of the idle limit
// learned, and the metrics are printed to stdout.
//
//	go run ./examples/otel
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/resilient-http/resilient/transport"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	url, stop, err := startBackend()
	if err != nil {
		return err
	}
	defer stop()

	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanPrinter{}))
	defer func() { _ = tp.Shutdown(ctx) }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(ctx) }()
	prop := propagation.TraceContext{}

	tr := transport.New(
		transport.WithTracerProvider(tp),
		transport.WithMeterProvider(mp),
		transport.WithPropagators(prop),
		transport.WithLogger(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: otelhttp.NewTransport(tr,
		otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(prop))}

	fmt.Println("spans (as they end) and log:")
	ctx, root := tp.Tracer("examples/otel").Start(ctx, "two PUTs")
	for i := 1; i <= 2; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader("payload"))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("PUT %d: %w", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("PUT %d: %s\n", i, resp.Status)
	}
	root.End()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	fmt.Println("\nmetrics:")
	printMetrics(rm)
	return nil
}

// spanPrinter is a span exporter that prints one line per span, then its
// events, with IDs shortened to their last 4 hex digits.
type spanPrinter struct{}

func (spanPrinter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		fmt.Printf("  span %s parent %s %-10q %-45s %s\n",
			short(s.SpanContext().SpanID().String()), short(s.Parent().SpanID().String()),
			s.Name(), s.InstrumentationScope().Name, attrs(s.Attributes()))
		for _, e := range s.Events() {
			fmt.Printf("      event %s %s\n", e.Name, attrs(e.Attributes))
		}
	}
	return nil
}

func (spanPrinter) Shutdown(context.Context) error { return nil }

func short(id string) string { return id[len(id)-4:] }

func attrs(kvs []attribute.KeyValue) string {
	parts := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, " ")
}

// printMetrics prints one line per data point.
func printMetrics(rm metricdata.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					fmt.Printf("  %s = %d {%s}\n", m.Name, p.Value, attrs(p.Attributes.ToSlice()))
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					fmt.Printf("  %s = %g %s {%s}\n", m.Name, p.Value, m.Unit, attrs(p.Attributes.ToSlice()))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					fmt.Printf("  %s: count %d, sum %.4f %s {%s}\n", m.Name, p.Count, p.Sum, m.Unit, attrs(p.Attributes.ToSlice()))
				}
			}
		}
	}
}

// startBackend serves "ok" on 127.0.0.1 and resets every connection on
// which a second request arrives, after reading that request: the
// connection looked reusable to the client, the backend had closed it.
func startBackend() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var mu sync.Mutex
	served := map[string]int{} // requests per connection, by remote address
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			mu.Lock()
			served[r.RemoteAddr]++
			n := served[r.RemoteAddr]
			mu.Unlock()
			if n < 2 {
				_, _ = io.WriteString(w, "ok\n")
				return
			}
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
