package interpret

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps interpret a sandbox with no way out: no files, network, processes,
// loggers or Kubernetes clients in its own code (its one goroutine, a call's allocation
// watchdog, ends with the call), and no Lua library that reaches outside.
func TestPure(t *testing.T) {
	purity.Check(t, ".", purity.Rules{
		Why: "interpret runs hostile scripts and must reach nothing outside",
		Imports: []string{
			"net", "os", "syscall", "log", "unsafe", "plugin", "math/rand", "crypto/rand",
			"k8s.io/client-go", "k8s.io/klog", "sigs.k8s.io/controller-runtime",
			"go.etcd.io/", "github.com/hashicorp/", "atoll/site", "atoll/peering",
		},
		NoDotImports: true,
	}, 6)
}
