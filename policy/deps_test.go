package policy

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps policy a pure translation: it reads the files it is given, and has no
// network, processes, clocks, loggers, goroutines or Kubernetes clients.
// The checker's own tests, that it can fail, are in internal/purity.
func TestPure(t *testing.T) {
	purity.Check(t, ".", purity.Rules{
		Why: "policy only reads the files it is given",
		Imports: []string{
			"net", "os/exec", "os/signal", "os/user", "syscall", "log", "testing", "sync", "unsafe",
			"runtime", "plugin", "math/rand", "crypto/rand", "time",
			"k8s.io/client-go", "k8s.io/klog", "sigs.k8s.io/controller-runtime",
			"go.etcd.io/", "github.com/hashicorp/", "atoll/site", "atoll/peering", "atoll/crdt",
		},
		OSAllowed:    []string{"ReadFile", "Stat"},
		NoGo:         true,
		NoDotImports: true,
	}, 10)
}
