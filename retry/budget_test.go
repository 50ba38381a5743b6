package retry_test

import (
	"testing"

	"github.com/resilient-http/resilient/retry"
)

func TestBudgetExhaustionAndRecovery(t *testing.T) {
	b := retry.NewBudget(4, 0.5)
	allowed := 0
	for range 10 {
		if b.Allow("a") {
			allowed++
		}
	}
	// 4 tokens, denied below half: two retries.
	if allowed != 2 {
		t.Fatalf("allowed %d retries, want 2", allowed)
	}
	if !b.Allow("b") {
		t.Fatal("another backend's budget was affected")
	}
	for range 2 {
		b.Success("a")
	}
	if !b.Allow("a") {
		t.Fatalf("budget did not recover after successes; tokens %v", b.Tokens("a"))
	}
	for range 100 {
		b.Success("a")
	}
	if got := b.Tokens("a"); got != 4 {
		t.Fatalf("tokens = %v, want capped at 4", got)
	}
}

func TestBudgetSuccessAllocatesNothing(t *testing.T) {
	b := retry.NewBudget(0, 0)
	b.Success("backend:80")
	if n := testing.AllocsPerRun(100, func() { b.Success("backend:80") }); n != 0 {
		t.Fatalf("Success allocates %v times", n)
	}
}
