package core

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps the site's core a pure state machine: no sockets, files, loggers,
// locks, goroutines, wall clock or timers, global randomness, client libraries or any
// module but the standard library's, and nothing of the site's shell. time.Time and
// time.Duration values are allowed: every input carries its time.
func TestPure(t *testing.T) {
	r := purity.Core.Forbid("atoll/site", "atoll/chaos", "atoll/e2e", "atoll/deploy", "atoll/cmd")
	r.StdlibOnly = true
	r.Why = "site/core is a pure state machine"
	purity.Check(t, ".", r, 5)
}
