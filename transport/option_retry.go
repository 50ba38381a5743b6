package transport

import (
	"fmt"
	"slices"

	"github.com/resilient-http/resilient/retry"
)

// WithRetry sets the retry policy; its zero fields take their defaults
// (see [retry.Policy]). New retries under [retry.Default] unless told
// otherwise. New panics when a field is out of range: a negative
// MaxAttempts, MaxElapsed, MaxRetryAfter or AttemptTimeout, or a status
// outside 100-599. The policy is copied: changing its Statuses after New changes nothing.
func WithRetry(p retry.Policy) Option {
	return optionFunc(func(c *config) {
		switch {
		case p.MaxAttempts < 0:
			panic(fmt.Sprintf("transport: WithRetry: MaxAttempts %d is negative", p.MaxAttempts))
		case p.MaxElapsed < 0:
			panic(fmt.Sprintf("transport: WithRetry: MaxElapsed %s is negative", p.MaxElapsed))
		case p.MaxRetryAfter < 0:
			panic(fmt.Sprintf("transport: WithRetry: MaxRetryAfter %s is negative", p.MaxRetryAfter))
		case p.AttemptTimeout < 0:
			panic(fmt.Sprintf("transport: WithRetry: AttemptTimeout %s is negative", p.AttemptTimeout))
		}
		for _, code := range p.Statuses {
			if code < 100 || code > 599 {
				panic(fmt.Sprintf("transport: WithRetry: status %d is not an HTTP status code", code))
			}
		}
		p.Statuses = slices.Clone(p.Statuses)
		c.retry = withDefaults(p)
	})
}

// WithoutRetry turns retries off: every request runs exactly one attempt.
// It is WithRetry with MaxAttempts 1.
func WithoutRetry() Option {
	return WithRetry(retry.Policy{MaxAttempts: 1})
}

// WithRetryBudget sets the per-backend retry budget. New uses
// retry.NewBudget(0, 0, 0) (0.2 retries per request plus 10 retries a
// second, see [retry.Budget]) unless told otherwise; pass one Budget to
// several Transports to share it. A nil Budget means the default.
func WithRetryBudget(b *retry.Budget) Option {
	return optionFunc(func(c *config) { c.budget = b })
}

// withDefaults fills the zero fields of p from retry.Default, as
// retry.Policy documents, so that the transport reads MaxAttempts and
// BodyLimit as Decide does.
func withDefaults(p retry.Policy) retry.Policy {
	d := retry.Default()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.Statuses == nil {
		p.Statuses = d.Statuses
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.BackOff == nil {
		p.BackOff = d.BackOff
	}
	if p.BodyLimit == 0 {
		p.BodyLimit = d.BodyLimit
	}
	return p
}
