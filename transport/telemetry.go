package transport

import (
	"context"
	"log/slog"
	"reflect"

	"github.com/resilient-http/resilient/idle"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// scope is the instrumentation scope of our tracer and meter.
const scope = "github.com/resilient-http/resilient/transport"

// telemetry is everything a Transport reports through: the tracer, the
// propagator, the logger and the instruments, all created once by New.
//
// Telemetry must cost nothing on a request that succeeds while the
// providers are no-ops (the defaults until an SDK is installed): no span is
// started, no header cloned, no attribute built and no clock read unless
// the tracer or an instrument will record. Instruments say so themselves
// (Enabled); tracers do not, so tracing decides from the provider.
type telemetry struct {
	tracer trace.Tracer
	// tracing is true when the provider was given, or installed globally
	// before New, and is not a no-op. unsetGlobal is the global provider as
	// it is before an SDK is installed: it delegates to the SDK installed
	// later, and tracing starts when otel.GetTracerProvider() changes.
	tracing     bool
	unsetGlobal trace.TracerProvider
	prop        propagation.TextMapPropagator
	log         *slog.Logger
	tracker     *idle.Tracker // the Transport's idle limits

	duration metric.Float64Histogram
	failures metric.Int64Counter
	retries  metric.Int64Counter
	denied   metric.Int64Counter
	closes   metric.Int64Counter
}

// newTelemetry resolves the providers of c and creates the instruments. The
// idle limit gauge reads tracker.
func newTelemetry(c telemetryConfig, tracker *idle.Tracker) *telemetry {
	tm := &telemetry{prop: c.propagator, log: c.logger, tracker: tracker}
	if tm.prop == nil {
		tm.prop = otel.GetTextMapPropagator()
	}
	if tm.log == nil {
		tm.log = slog.New(slog.DiscardHandler)
	}
	tp := c.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
		if isUnsetGlobal(tp) {
			tm.unsetGlobal = tp
		}
	}
	_, noop := tp.(tracenoop.TracerProvider)
	tm.tracing = !noop && tm.unsetGlobal == nil
	tm.tracer = tp.Tracer(scope)

	mp := c.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if err := tm.instruments(mp.Meter(scope), tracker); err != nil {
		otel.Handle(err)
	}
	return tm
}

// isUnsetGlobal reports whether tp is the global provider that the otel
// package hands out before otel.SetTracerProvider is called. Its type is
// unexported, hence the package path.
func isUnsetGlobal(tp trace.TracerProvider) bool {
	t := reflect.TypeOf(tp)
	return t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// tracingOn reports whether attempts get spans.
func (tm *telemetry) tracingOn() bool {
	// Different dynamic types compare unequal without panicking, and
	// unsetGlobal's type is a pointer, so this comparison is safe.
	return tm.tracing || (tm.unsetGlobal != nil && otel.GetTracerProvider() != tm.unsetGlobal)
}

// logging reports whether the logger wants records at level.
func (tm *telemetry) logging(ctx context.Context, level slog.Level) bool {
	return tm.log.Enabled(ctx, level)
}
