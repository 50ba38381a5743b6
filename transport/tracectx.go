package transport

import (
	"context"
	"net/http/httptrace"
)

// traceContext carries an attempt's httptrace hooks without the allocation
// of context.WithValue: the attemptTrace is itself the context that
// httptrace.ContextClientTrace finds them in. It falls back to
// httptrace.WithClientTrace whenever that is needed for correctness: when
// the caller's context already has hooks (they must be composed with ours)
// or when the key could not be learned.
type traceContext struct {
	context.Context
	trace *httptrace.ClientTrace
	key   any
}

// Value returns the attempt's hooks for httptrace's key and defers to the
// caller's context for every other key.
func (c *traceContext) Value(key any) any {
	if key == c.key {
		return c.trace
	}
	return c.Context.Value(key)
}

// keyProbe is a context that records the key httptrace looks its hooks up
// under. httptrace does not export the key; it only reads it.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// learnTraceKey returns the key httptrace stores hooks under, or nil.
func learnTraceKey() any {
	p := &keyProbe{Context: context.Background()}
	httptrace.ContextClientTrace(p)
	return p.key
}

// withTrace returns ctx with trace installed, reusing tc for the context
// when it can.
func withTrace(ctx context.Context, trace *httptrace.ClientTrace, tc *traceContext, key any) context.Context {
	if key == nil || httptrace.ContextClientTrace(ctx) != nil {
		return httptrace.WithClientTrace(ctx, trace)
	}
	tc.Context, tc.trace, tc.key = ctx, trace, key
	return tc
}
