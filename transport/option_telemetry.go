package transport

import (
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// telemetryConfig collects the telemetry options; nil fields mean the
// global providers, resolved by New.
type telemetryConfig struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	logger         *slog.Logger
}

// WithTracerProvider sets the provider of the tracer that records one
// client span per attempt. New uses otel.GetTracerProvider() unless told
// otherwise; a nil provider means that default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.tracerProvider = tp })
}

// WithMeterProvider sets the provider of the meter that records attempt
// durations, failures, retries and idle limits. New uses
// otel.GetMeterProvider() unless told otherwise; a nil provider means that
// default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.meterProvider = mp })
}

// WithPropagators sets the propagator that writes each attempt's trace
// context into its request headers. New uses otel.GetTextMapPropagator()
// unless told otherwise; a nil propagator means that default.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.telemetry.propagator = p })
}

// WithLogger sets the logger for retry decisions (Debug) and idle limits
// learned from backends (Info). New logs nothing unless told otherwise; a
// nil logger means that default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.telemetry.logger = l })
}
