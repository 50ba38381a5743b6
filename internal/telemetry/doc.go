// Package telemetry is the one place where the transport reports what it
// does: the OpenTelemetry spans and metrics of attempts, retry decisions,
// connection closes and idle limits, and the log records of decisions and
// learned limits.
//
// The transport calls it at fixed points and nowhere else, with plain
// values (strings, counts, durations), never its own error types:
//
//   - attempt start: [Telemetry.Start], then [Attempt.Inject] and, once the
//     base transport picked a connection, [Attempt.GotConn];
//   - base resend: [Attempt.BaseResent], when the base transport sends the
//     request again on another connection within the attempt;
//   - attempt end: [Attempt.Returned] when the base transport returns,
//     [Attempt.Failed] for a classified failure (also one of the response
//     body), [Attempt.End] when the response body is done;
//   - retry decision: [Attempt.Retried], on the span of the attempt it judged;
//   - limit learned: [Telemetry.LimitLearned];
//   - connection closed: [Telemetry.ConnClosed].
//
// # Per attempt, beside otelhttp's per request
//
// Under otelhttp.NewTransport(transport.New()), otelhttp records one client
// span and one http.client.request.duration per request, from its call to
// its response (retries and backoff waits included). Below it, this package
// records one client span per attempt, a child of otelhttp's, and the
// attempt's duration as resilient.client.attempt.duration (seconds, the
// same attributes as http.client.request.duration), in the scope
// github.com/resilient-http/resilient/transport. No instrument of ours
// shares a name with one of otelhttp's, so a dashboard that sums a metric
// by name counts each request once, and each attempt once: requests come
// from otelhttp's histogram, attempts and retries from ours.
//
// Telemetry costs nothing on a request that succeeds while the providers
// are no-ops (the defaults until an SDK is installed): no span is started,
// no header cloned, no attribute built and no clock read unless the tracer
// or an instrument will record.
package telemetry
