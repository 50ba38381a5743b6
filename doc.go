// Package resilient makes outbound HTTP calls survive the failures that
// keep-alive connection pools cause.
//
// A client keeps pooled connections open longer than the backend does
// (Go's default is 90 s; Node.js closes after 5 s, nginx after 75 s, cloud
// load balancers after 60 s). A request sent on such a connection at the
// moment the backend closes it dies with EOF or "connection reset by peer",
// and a gateway answers "503 upstream connect error or disconnect/reset
// before headers". net/http repeats only idempotent requests, so every POST
// in that window is lost.
//
// The module is organised as one package per idea:
//
//   - transport: the drop-in http.RoundTripper. It wraps an http.Transport,
//     traces every attempt and classifies each failure by how far the
//     request got (transport.AttemptError, retry.Stage).
//   - idle: the idle limit of each backend, derived from configuration,
//     Keep-Alive response headers and connections the backend closed, so
//     that the client closes pooled connections before the backend does.
//   - retry: the policy that decides which failed attempts are repeated:
//     idempotent requests where safe, non-idempotent ones only when they
//     provably never reached the server or when the caller opts in.
//
// Each attempt is an OpenTelemetry span, and failures, retries and idle
// limits are metrics (transport.WithTracerProvider,
// transport.WithMeterProvider); only the OpenTelemetry API is linked.
//
// Quick start:
//
//	client := &http.Client{Transport: transport.New()}
package resilient
