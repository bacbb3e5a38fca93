package crdt

import (
	"testing"

	"atoll/internal/purity"
)

// TestPure keeps the core free of I/O, clocks, randomness and goroutine-owning packages,
// and of every module, ours included: it imports the standard library only.
func TestPure(t *testing.T) {
	purity.Check(t, ".", purity.Rules{
		Why:        "crdt is a pure core",
		StdlibOnly: true,
		Imports:    []string{"net", "os", "time", "math/rand", "log", "testing", "sync", "k8s.io/", "atoll/", "go.etcd.io/"},
	}, 20)
}
