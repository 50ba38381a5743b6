package retry

import "context"

// Hook allows retrying a non-idempotent request that Policy.Decide would
// not retry. It sees the request and the failed attempt and reports
// whether repeating the request is acceptable, for example because the
// server de-duplicates by Idempotency-Key. Decide asks it only for a
// failure before the response headers that may have reached the server;
// it never overrides the rules that come before it in Decide.
type Hook func(Attempt) bool

type hookKey struct{}

// WithHook returns a context whose requests use hook, in place of the
// client's Policy.Hook, to decide on non-idempotent retries.
func WithHook(ctx context.Context, hook Hook) context.Context {
	return context.WithValue(ctx, hookKey{}, hook)
}

// WithIdempotencyKey returns a context whose requests ask for an
// Idempotency-Key as Policy.IdempotencyKey asks for every request: the
// transport attaches one random key, the same on every attempt, to a
// non-idempotent request that a Hook (WithHook's or Policy.Hook) may
// retry, unless the request carries a key already. Use it beside WithHook
// when the client's Policy has no IdempotencyKey. Either setting asks: a
// request gets a key when its Policy or its context asks for one, and
// neither can turn the other's off.
func WithIdempotencyKey(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotencyKeyKey{}, true)
}

type idempotencyKeyKey struct{}

// IdempotencyKeyFrom reports whether WithIdempotencyKey asked for a key in
// ctx.
func IdempotencyKeyFrom(ctx context.Context) bool {
	asked, _ := ctx.Value(idempotencyKeyKey{}).(bool)
	return asked
}

// HookFrom returns the hook WithHook put in ctx, or nil.
func HookFrom(ctx context.Context) Hook {
	h, _ := ctx.Value(hookKey{}).(Hook)
	return h
}

// StaleConnection is a Hook for the commonest safe case of a lost request
// on a pooled connection: the connection had been reused and the peer
// closed or reset it before any response byte arrived. Use it only when
// the backend tolerates a duplicate, for instance with
// Policy.IdempotencyKey.
func StaleConnection(a Attempt) bool {
	f := a.failure()
	return f != nil &&
		// The peer closed or reset a pooled connection, rather than the
		// attempt timing out.
		f.Stale() &&
		// No response byte arrived: a server that answered even part of a
		// status line had read the request and may have run it.
		f.AttemptStage() < StageResponseStarted
}
