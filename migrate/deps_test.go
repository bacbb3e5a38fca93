package migrate

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps migrate a pure conversion: the CLI lists the objects and stores the
// result; migrate reads nothing and writes nothing.
func TestPure(t *testing.T) {
	purity.Check(t, ".", purity.Rules{
		Why: "migrate converts what it is given",
		Imports: []string{
			"net", "os", "syscall", "log", "sync", "time", "unsafe", "runtime",
			"k8s.io/client-go", "k8s.io/klog", "go.etcd.io/", "github.com/hashicorp/", "atoll/site", "atoll/crdt",
		},
		NoGo:         true,
		NoDotImports: true,
	}, 2)
}
