package retry_test

import (
	"strings"
	"testing"

	"github.com/resilient-http/resilient/retry"
)

func TestNames(t *testing.T) {
	for s := retry.StageNotConnected; s <= retry.StageHeadersReceived; s++ {
		if name := s.String(); name == "unknown" || name == "" || strings.ContainsAny(name, " -") {
			t.Errorf("Stage(%d).String() = %q", s, name)
		}
	}
	if got := retry.Stage(200).String(); got != "unknown" {
		t.Errorf("Stage(200).String() = %q, want unknown", got)
	}
	for k := retry.KindOther; k <= retry.KindRequestBody; k++ {
		if name := k.String(); name == "unknown" || name == "" || strings.ContainsAny(name, " -") {
			t.Errorf("Kind(%d).String() = %q", k, name)
		}
	}
	if got := retry.Kind(200).String(); got != "unknown" {
		t.Errorf("Kind(200).String() = %q, want unknown", got)
	}
}
