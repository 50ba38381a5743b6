// Package transport provides Transport, a drop-in http.RoundTripper that
// wraps net/http's Transport and makes pooled keep-alive connections safe
// to reuse.
//
//	client := &http.Client{Transport: transport.New()}
//
// A failed attempt comes back as an [*AttemptError] that records how far
// the request got and why it failed (a [retry.Stage] and a [retry.Kind]);
// sentinels such as [ErrResetBeforeHeaders], [ErrServerClosedIdle] and
// [ErrUnprocessed] make the common questions one errors.Is away. Failed
// attempts are retried as [Transport] describes, under a [retry.Policy].
//
// A Transport is configured with [Option] values passed to [New]; it works
// under http.Client, httputil.ReverseProxy and otelhttp.NewTransport.
//
// # How a request travels
//
// A request passes these stages in this order, each in one file:
//
//  1. [Transport.RoundTrip] (transport.go) takes the caller's request and
//     hands it to the retry loop.
//  2. The retry loop (retry.go) runs an attempt, asks
//     [retry.Policy.Decide] whether another runs, waits as long as it
//     says, and sends the next attempt, its body replayed from GetBody or
//     from the buffer of replay.go.
//  3. An attempt (attempt.go) follows the request through the base
//     transport with httptrace, classifies its failure by how far it got,
//     wraps its response body, and reports to telemetry at fixed points:
//     its start, its connection, a resend by the base, its end and the
//     retry decision on it.
//  4. The base transport (the caller's *http.Transport, cloned by New)
//     takes a pooled connection or dials one, and sends the request.
//  5. The tracked connection (conn.go): our dialers wrap every connection
//     the base opens, count its bytes, close it at the backend's idle limit
//     while it sits in the pool, and teach the idle tracker (package idle)
//     what the backend does.
//
// Telemetry is reported at those fixed points only, from the attempt and
// the tracked connection: one OpenTelemetry client span per attempt, and
// the metrics resilient.client.attempt.duration,
// resilient.client.attempt.failures, resilient.client.retries,
// resilient.client.retries.denied, resilient.client.connection.closes and
// resilient.client.idle_limit. Under otelhttp.NewTransport, otelhttp's
// http.client.request.duration counts each request once, however many
// attempts it took, and resilient.client.attempt.duration (same unit,
// buckets and attributes) counts each attempt: no metric name is recorded
// in both scopes.
package transport
