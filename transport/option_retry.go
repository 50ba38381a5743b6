package transport

import "github.com/resilient-http/resilient/retry"

// WithRetry sets the retry policy; zero fields of p take their defaults
// (see retry.Policy). New retries with retry.Default() unless told
// otherwise.
func WithRetry(p retry.Policy) Option {
	return optionFunc(func(c *config) {
		c.retry = p.Normalize()
		c.noRetry = false
	})
}

// WithoutRetry turns retries off: every request runs exactly one attempt.
func WithoutRetry() Option {
	return optionFunc(func(c *config) { c.noRetry = true })
}

// WithRetryBudget sets the per-backend retry budget. New uses
// retry.NewBudget(0, 0) (10 tokens, 0.1 per success) unless told
// otherwise; pass one Budget to several Transports to share it. A nil
// Budget means the default.
func WithRetryBudget(b *retry.Budget) Option {
	return optionFunc(func(c *config) { c.budget = b })
}
