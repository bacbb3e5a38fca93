package apply

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure: apply builds operations and does nothing else.
func TestPure(t *testing.T) {
	purity.Check(t, ".", purity.Rules{
		Why:          "apply only builds the operations of a write",
		Imports:      []string{"net", "os", "syscall", "log", "sync", "time", "k8s.io/client-go", "atoll/site"},
		NoGo:         true,
		NoDotImports: true,
	}, 1)
}
