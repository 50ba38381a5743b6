// Package retry decides whether a failed HTTP attempt runs again, how long
// to wait first, and why retrying stops.
//
// [Policy.Decide] is the decision, every rule in one place; [Default] is
// the safe Policy. A failed attempt reaches it as a [Failure] (the
// transport's *transport.AttemptError), whose [Stage] and [Kind] are
// defined here. A [Hook] lets a caller allow more for non-idempotent
// requests, per client ([Policy].Hook) or per request ([WithHook]); a
// [Budget] per backend keeps retries from turning an outage into a storm.
// When retrying stops on a failure, the request's error is an [*Error]
// whose Stop is one of the Err sentinels.
//
// The package decides; package transport runs the attempts
// (transport.WithRetry). Waits use github.com/cenkalti/backoff/v4.
package retry
