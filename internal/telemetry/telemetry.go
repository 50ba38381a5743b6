package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"reflect"

	"github.com/resilient-http/resilient/idle"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of our tracer and meter: the package
// users import.
const Scope = "github.com/resilient-http/resilient/transport"

// Config is what the transport's options say; a nil field means the
// global provider (or, for Logger, no logging).
type Config struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	Logger         *slog.Logger
}

// Limits is what telemetry reads of the backends' idle limits: the limit a
// connection was kept under, and every limit for the gauge.
type Limits interface {
	Limit(key string) idle.Limit
	Range(f func(key string, l idle.Limit))
}

// Telemetry is everything a Transport reports through: the tracer, the
// propagator, the logger and the instruments, all created once by New.
//
// Instruments say themselves whether they record (Enabled); tracers do
// not, so tracing is decided from the provider.
type Telemetry struct {
	tracer trace.Tracer
	// tracing is true when the provider was given, or installed globally
	// before New, and is not a no-op. unsetGlobal is the global provider as
	// it is before an SDK is installed: it delegates to the SDK installed
	// later, and tracing starts when otel.GetTracerProvider() changes.
	tracing     bool
	unsetGlobal trace.TracerProvider
	prop        propagation.TextMapPropagator
	log         *slog.Logger
	limits      Limits

	duration metric.Float64Histogram
	failures metric.Int64Counter
	retries  metric.Int64Counter
	denied   metric.Int64Counter
	closes   metric.Int64Counter
}

// New resolves the providers of c and creates the instruments. The idle
// limit gauge and the spans read limits.
func New(c Config, limits Limits) *Telemetry {
	tm := &Telemetry{prop: c.Propagator, log: c.Logger, limits: limits}
	if tm.prop == nil {
		tm.prop = otel.GetTextMapPropagator()
	}
	if tm.log == nil {
		tm.log = slog.New(slog.DiscardHandler)
	}
	tp := c.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
		if isUnsetGlobal(tp) {
			tm.unsetGlobal = tp
		}
	}
	_, noop := tp.(tracenoop.TracerProvider)
	tm.tracing = !noop && tm.unsetGlobal == nil
	tm.tracer = tp.Tracer(Scope)

	mp := c.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if err := tm.instruments(mp.Meter(Scope)); err != nil {
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
func (tm *Telemetry) tracingOn() bool {
	// Different dynamic types compare unequal without panicking, and
	// unsetGlobal's type is a pointer, so this comparison is safe.
	return tm.tracing || (tm.unsetGlobal != nil && otel.GetTracerProvider() != tm.unsetGlobal)
}

// instruments creates the instruments once; an error leaves a usable no-op
// instrument in place, so it is reported and not fatal.
func (tm *Telemetry) instruments(m metric.Meter) error {
	var errs [6]error
	tm.duration, errs[0] = m.Float64Histogram(MetricAttemptDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of each HTTP client attempt, until its response headers or its failure."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	tm.failures, errs[1] = m.Int64Counter(MetricFailures,
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Failed attempts, by how far they got (stage) and the kind of failure."))
	tm.retries, errs[2] = m.Int64Counter(MetricRetries,
		metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts repeated after a failure or a retryable status, by reason."))
	tm.denied, errs[3] = m.Int64Counter(MetricDenied,
		metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts not repeated, by what denied it: policy, budget, body, max_attempts, deadline or context."))
	tm.closes, errs[4] = m.Int64Counter(MetricCloses,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Pooled connections closed while idle: by our idle limit (before the backend) or by the server."))
	_, errs[5] = m.Float64ObservableGauge(MetricIdleLimit,
		metric.WithUnit("s"),
		metric.WithDescription("Effective idle limit of each backend's pooled connections, by source."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			tm.limits.Range(func(key string, l idle.Limit) {
				if l.Timeout > 0 {
					o.Observe(l.Timeout.Seconds(), metric.WithAttributes(attrBackend.String(key), attrIdleSource.String(l.Source.String())))
				}
			})
			return nil
		}))
	return errors.Join(errs[:]...)
}

// ConnClosed counts a pooled connection closed while idle, by our idle
// limit or by the server.
func (tm *Telemetry) ConnClosed(key string, byLimit bool) {
	ctx := context.Background()
	if !tm.closes.Enabled(ctx) {
		return
	}
	by := "server"
	if byLimit {
		by = "idle_limit"
	}
	tm.closes.Add(ctx, 1, metric.WithAttributes(attrBackend.String(key), attrClosedBy.String(by)))
}

// LearnsLimits reports whether LimitLearned wants to hear of changes, so
// that callers look the limit up before and after only then.
func (tm *Telemetry) LearnsLimits() bool {
	return tm.log.Enabled(context.Background(), slog.LevelInfo)
}

// LimitLearned logs a change of a backend's effective idle limit at Info.
func (tm *Telemetry) LimitLearned(key string, before, after idle.Limit) {
	if before == after {
		return
	}
	tm.log.LogAttrs(context.Background(), slog.LevelInfo, "resilient: idle limit changed",
		slog.String("backend", key),
		slog.Duration("limit", after.Timeout),
		slog.String("source", after.Source.String()),
		slog.Duration("previous", before.Timeout),
		slog.String("previous_source", before.Source.String()),
		slog.Int("max_requests", after.MaxRequests))
}
