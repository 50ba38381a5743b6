package retry_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// clock is a time that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newClockedBudget(ratio float64, floor int, per time.Duration) (*retry.Budget, *clock) {
	b := retry.NewBudget(ratio, floor, per)
	c := &clock{t: time.Unix(1_000_000, 0)}
	retry.SetClock(b, c.now)
	return b, c
}

// TestBudgetFloor: the floor allows Floor retries in any window of Per,
// with no traffic at all, and no more; a window later it allows them
// again. Other backends are not affected.
func TestBudgetFloor(t *testing.T) {
	b, c := newClockedBudget(0.2, 10, time.Second)
	allowed := 0
	for range 25 {
		if b.Allow("a") {
			allowed++
		}
		c.t = c.t.Add(10 * time.Millisecond)
	}
	if allowed != 10 {
		t.Fatalf("allowed %d retries in 250ms, want the floor's 10", allowed)
	}
	if !b.Allow("b") {
		t.Fatal("another backend's floor was spent")
	}
	// The window slides: the first retry was taken 1s before this one.
	c.t = c.t.Add(time.Second - 250*time.Millisecond)
	if !b.Allow("a") {
		t.Fatal("the floor did not come back after its window")
	}
	if b.Allow("a") {
		t.Fatal("the floor allowed more than one retry whose window had passed")
	}
}

// TestBudgetLowTraffic: below the floor's rate every retry is allowed,
// however few the requests: one request a second, each failing once.
func TestBudgetLowTraffic(t *testing.T) {
	b, c := newClockedBudget(0, 0, 0)
	for i := range 300 {
		b.Deposit("a")
		if !b.Allow("a") {
			t.Fatalf("request %d: retry denied at one request a second", i)
		}
		c.t = c.t.Add(110 * time.Millisecond) // 9 a second
	}
}

// TestBudgetRatio: under load the retries a backend gets beyond the floor
// are Ratio of its requests: 1000 requests within one window, all
// failing, get 10 retries from the floor and at most 200 from the reserve.
func TestBudgetRatio(t *testing.T) {
	b, _ := newClockedBudget(0, 0, 0)
	allowed := 0
	for range 1000 {
		b.Deposit("a")
		if b.Allow("a") {
			allowed++
		}
	}
	// The first request's deposit finds no reserve yet; the floor paid
	// its retry. The reserve's cap (the floor's 10) bounds each burst.
	if allowed < 10 || allowed > 10+200 {
		t.Fatalf("allowed %d retries for 1000 failing requests, want 10..210", allowed)
	}
	t.Logf("1000 failing requests within a second: %d retries allowed", allowed)
}

// TestBudgetRefund: a request answered after retries returns what they
// took, so that a backend whose first attempts all fail but whose retries
// succeed is never starved, however many requests there are.
func TestBudgetRefund(t *testing.T) {
	b, _ := newClockedBudget(0, 0, 0)
	p := retry.Default()
	req, _ := http.NewRequest(http.MethodGet, "http://backend.test/", nil)
	reset := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset}
	for i := range 1000 {
		b.Deposit("http://backend.test:80")
		s := retry.State{Budget: b}
		if d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: reset}, &s, time.Now()); !d.Retry {
			t.Fatalf("request %d: first failure not retried: %+v (%v retries left)", i, d, b.Tokens("http://backend.test:80"))
		}
		if d := p.Decide(retry.Attempt{Request: req, Number: 2, Response: &http.Response{StatusCode: http.StatusOK}}, &s, time.Now()); d != (retry.Decision{}) {
			t.Fatalf("request %d: the answer is not the result: %+v", i, d)
		}
	}
}

// TestBudgetNoRefundForFailure: a request whose retries ended in a status
// the policy retries (the backend failing wholesale) returns nothing.
func TestBudgetNoRefundForFailure(t *testing.T) {
	b, _ := newClockedBudget(0.001, 1, time.Hour)
	p := retry.Policy{MaxAttempts: 2}
	req, _ := http.NewRequest(http.MethodGet, "http://backend.test/", nil)
	s := retry.State{Budget: b}
	unavailable := &http.Response{StatusCode: http.StatusServiceUnavailable}
	if d := p.Decide(retry.Attempt{Request: req, Number: 1, Response: unavailable}, &s, time.Now()); !d.Retry {
		t.Fatalf("first 503 not retried: %+v", d)
	}
	if d := p.Decide(retry.Attempt{Request: req, Number: 2, Response: unavailable}, &s, time.Now()); d.Stop != retry.ErrMaxAttempts {
		t.Fatalf("second 503: %+v, want max_attempts", d)
	}
	if got := b.Tokens("http://backend.test:80"); got != 0 {
		t.Fatalf("%v retries left after a failure, want none returned", got)
	}
}

// TestBudgetStaleIsFree: a stale pooled connection costs no budget, so a
// spent budget still retries it.
func TestBudgetStaleIsFree(t *testing.T) {
	b := spentBudget()
	req, _ := http.NewRequest(http.MethodGet, "http://backend.test/", nil)
	stale := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset, Reused: true}
	fresh := &transport.AttemptError{Stage: retry.StageRequestWritten, Kind: retry.KindReset}
	p := retry.Default()
	if d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: stale}, &retry.State{Budget: b}, time.Now()); !d.Retry {
		t.Fatalf("stale connection under a spent budget: %+v, want a retry", d)
	}
	if d := p.Decide(retry.Attempt{Request: req, Number: 1, Err: fresh}, &retry.State{Budget: b}, time.Now()); d.Stop != retry.ErrBudgetExhausted {
		t.Fatalf("reset on a new connection under a spent budget: %+v, want budget_exhausted", d)
	}
}

func TestBudgetDepositAllocatesNothing(t *testing.T) {
	b := retry.NewBudget(0, 0, 0)
	b.Allow("backend:80")
	b.Deposit("backend:80")
	if n := testing.AllocsPerRun(100, func() { b.Deposit("backend:80"); _ = b.Full() }); n != 0 {
		t.Fatalf("Deposit allocates %v times", n)
	}
}

// TestBudgetFull: Full is true exactly while no backend's reserve lacks
// anything, so that skipping Deposit then changes nothing.
func TestBudgetFull(t *testing.T) {
	b := retry.NewBudget(0.5, 1, time.Hour)
	if !b.Full() {
		t.Fatal("a new budget is not full")
	}
	b.Deposit("a")
	if !b.Full() {
		t.Fatal("a deposit to a backend that never retried changed the budget")
	}
	if !b.Allow("a") || b.Full() {
		t.Fatal("a budget that allowed a retry is still full")
	}
	b.Deposit("b")
	if b.Full() {
		t.Fatal("another backend's deposit refilled a")
	}
	b.Deposit("a")
	if b.Full() {
		t.Fatalf("half a retry made the reserve full; %v left", b.Tokens("a"))
	}
	b.Deposit("a")
	if !b.Full() {
		t.Fatalf("the reserve is not full at its cap; %v left", b.Tokens("a"))
	}
}

// TestBudgetBoundedBackends: ten times DefaultMaxBackends distinct
// backends, each asking a retry, leave at most DefaultMaxBackends
// allowances, and Full still answers for those kept. Backends idle for
// DefaultForgetAfter are forgotten at the next new one.
func TestBudgetBoundedBackends(t *testing.T) {
	b, c := newClockedBudget(0, 0, 0)
	for i := range 10 * retry.DefaultMaxBackends {
		c.t = c.t.Add(time.Millisecond)
		key := fmt.Sprintf("http://h%d.test:80", i)
		if !b.Allow(key) {
			t.Fatalf("first retry to %s refused", key)
		}
		b.Deposit(key)
	}
	n := retry.Backends(b)
	t.Logf("%d backends asked, %d remembered (cap %d); owed %d milli-retries", 10*retry.DefaultMaxBackends, n, retry.DefaultMaxBackends, retry.Owed(b))
	if n > retry.DefaultMaxBackends {
		t.Fatalf("%d backends remembered, want at most %d", n, retry.DefaultMaxBackends)
	}
	// Each kept backend lacks its whole reserve but one deposit.
	if got, want := retry.Owed(b), int64(n)*(10_000-200); got != want {
		t.Fatalf("owed %d milli-retries, want %d: forgotten backends still counted", got, want)
	}
	// The most recent backend is kept, with its deposit.
	last := fmt.Sprintf("http://h%d.test:80", 10*retry.DefaultMaxBackends-1)
	if got := b.Tokens(last); got != 9.2 {
		t.Fatalf("most recent backend: %v tokens, want 9.2 (9 left of the floor, 0.2 deposited)", got)
	}

	c.t = c.t.Add(retry.DefaultForgetAfter)
	b.Allow("http://new.test:80")
	if n := retry.Backends(b); n != 1 {
		t.Fatalf("%d backends remembered after %v without requests, want only the new one", n, retry.DefaultForgetAfter)
	}
	if got, want := retry.Owed(b), int64(10_000); got != want {
		t.Fatalf("owed %d milli-retries, want %d", got, want)
	}
}

// TestBudgetForgetKeepsUsed: a backend with a Deposit within
// DefaultForgetAfter is kept; one without is forgotten, and asked again it
// starts as new: an empty reserve and a whole floor.
func TestBudgetForgetKeepsUsed(t *testing.T) {
	b, c := newClockedBudget(0, 0, 0)
	for _, k := range []string{"http://busy:80", "http://quiet:80"} {
		b.Allow(k)
		for range 20 {
			b.Deposit(k)
		}
	}
	c.t = c.t.Add(retry.DefaultForgetAfter / 2)
	b.Deposit("http://busy:80")
	c.t = c.t.Add(retry.DefaultForgetAfter / 2)
	b.Allow("http://other:80") // a new backend: the sweep runs
	if n := retry.Backends(b); n != 2 {
		t.Fatalf("%d backends remembered, want busy and other", n)
	}
	if got := b.Tokens("http://busy:80"); got != 14.2 {
		t.Fatalf("busy: %v tokens, want 14.2 (the floor's 10, reserve 4.2)", got)
	}
	if got := b.Tokens("http://quiet:80"); got != 10 {
		t.Fatalf("quiet: %v tokens, want 10 (forgotten: a new backend's)", got)
	}
}

// TestBudgetForgottenByCap: a backend pushed out by the cap takes no
// deposit and counts no more in what Full reads.
func TestBudgetForgottenByCap(t *testing.T) {
	b, c := newClockedBudget(0, 1, 0)
	b.Allow("http://a:80")
	for i := range retry.DefaultMaxBackends + 1 {
		c.t = c.t.Add(time.Millisecond)
		b.Allow(fmt.Sprintf("http://h%d:80", i))
	}
	b.Deposit("http://a:80") // forgotten by the cap: not there to take it
	if got, want := retry.Owed(b), int64(retry.Backends(b))*1000; got != want {
		t.Fatalf("owed %d, want %d", got, want)
	}
}

// TestBudgetConcurrentForget: callers racing on backends that the cap
// keeps pushing out leave owed equal to what the kept reserves lack, so
// that Full stays exact, and never more backends than the cap.
func TestBudgetConcurrentForget(t *testing.T) {
	b := retry.NewBudget(0, 0, 0)
	retry.SetMaxBackends(b, 16)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprintf("http://h%d:80", (i*7+w)%64)
				switch i % 3 {
				case 0:
					b.Allow(key)
				case 1:
					b.Deposit(key)
				default:
					_ = b.Tokens(key)
				}
			}
		})
	}
	wg.Wait()
	if n := retry.Backends(b); n > 16 {
		t.Fatalf("%d backends remembered, want at most 16", n)
	}
	if got, want := retry.Owed(b), retry.Lacking(b); got != want {
		t.Fatalf("owed %d milli-retries, the kept reserves lack %d", got, want)
	}
}
