package peering

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps peering a pure core (STYLE.md section 1): no sockets, files, loggers, locks,
// goroutines, wall clock or global randomness in non-test code, and nothing of the site.
// The checker's own tests, that it can fail, are in internal/purity.
func TestPure(t *testing.T) {
	r := purity.Core.Forbid("atoll/site")
	r.Why = "peering is a pure core"
	purity.Check(t, ".", r, 5)
}
