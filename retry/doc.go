// Package retry decides whether a failed HTTP attempt may be repeated, how
// long to wait first, and how much retrying a backend can take.
//
// A Policy holds the rules; Default returns the safe ones: idempotent
// requests (RFC 9110 methods, or a request carrying an Idempotency-Key) are
// retried after failures before the response headers and on 502, 503 and
// 504; non-idempotent requests only when the attempt provably never reached
// the server. Nothing is retried after a response body started, after the
// request's context is done (the context says so, not the attempt's error:
// a base transport's timeout ends one attempt), or after a failure no
// retry can cure: the caller's request body failing to read, an invalid
// request, a server certificate that fails verification. A host that DNS
// says does not exist is looked up once more. A Hook lets a caller allow
// more for non-idempotent requests, per client (Policy.Hook) or per
// request (WithHook).
//
// The package decides; the loop that runs attempts lives in the transport
// package (transport.WithRetry). Waits use github.com/cenkalti/backoff/v4,
// and a Budget per backend keeps retries from turning an outage into a
// storm.
package retry
