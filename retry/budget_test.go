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

// TestBudgetFull: Full is true exactly while no backend lacks a token, so
// that skipping Success then changes nothing.
func TestBudgetFull(t *testing.T) {
	b := retry.NewBudget(4, 0.5)
	if !b.Full() {
		t.Fatal("a new budget is not full")
	}
	b.Success("a")
	if !b.Full() {
		t.Fatal("a success on a full budget emptied it")
	}
	if !b.Allow("a") || b.Full() {
		t.Fatal("a budget that gave a token is still full")
	}
	b.Success("b")
	if b.Full() {
		t.Fatal("another backend's success refilled a")
	}
	b.Success("a")
	if b.Full() {
		t.Fatalf("half a token back made the budget full; tokens %v", b.Tokens("a"))
	}
	b.Success("a")
	if !b.Full() {
		t.Fatalf("the budget is not full again after its token came back; tokens %v", b.Tokens("a"))
	}
}
