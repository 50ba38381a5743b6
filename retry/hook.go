package retry

import (
	"context"

	"github.com/resilient-http/resilient/internal/attempt"
)

// Hook allows retrying a non-idempotent request that the default rules
// would not retry. It sees the request and the classified attempt and
// reports whether repeating the request is acceptable, for example because
// the server de-duplicates by Idempotency-Key. A Hook is consulted only for
// failures before the response headers; it never overrides the context,
// the budget, the attempt limit, an unreplayable body or a failure that
// repeating cannot cure (see Policy).
type Hook func(Attempt) bool

type hookKey struct{}

// WithHook returns a context whose requests use hook, in place of the
// client's Policy.Hook, to decide on non-idempotent retries.
func WithHook(ctx context.Context, hook Hook) context.Context {
	return context.WithValue(ctx, hookKey{}, hook)
}

// HookFrom returns the hook WithHook put in ctx, or nil.
func HookFrom(ctx context.Context) Hook {
	h, _ := ctx.Value(hookKey{}).(Hook)
	return h
}

// StaleConnection is a Hook for the commonest safe case of a lost request
// on a pooled connection: the connection had been reused and the peer
// closed or reset it before any response byte arrived. Use it only when
// the backend tolerates a duplicate, for instance with Policy.IdempotencyKey.
func StaleConnection(a Attempt) bool {
	ae := a.classified()
	return ae != nil &&
		// Only a pooled connection can have gone stale under the request.
		ae.Reused &&
		// The peer closed or reset it, rather than the attempt timing out.
		ae.ResetBeforeHeaders() &&
		// No response byte arrived: a server that answered even part of a
		// status line had read the request and may have run it.
		ae.Stage < attempt.StageResponseStarted
}
