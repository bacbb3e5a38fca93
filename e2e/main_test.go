package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the atoll binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atoll-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "atoll")
	args := []string{"build", "-o", binary}
	if os.Getenv("ATOLL_E2E_RACE") != "" {
		// The sites under the race detector; with GORACE=halt_on_error=1 in the
		// environment a race ends the site, and so the test.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "atoll/cmd/atoll")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building atoll:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start runs a federation for one test; its logs stay in the test's temp dir, and are
// printed when the test fails.
func start(t *testing.T, o Options) *Fed {
	t.Helper()
	o.Dir, o.Binary = shortTempDir(t), binary
	if o.Supervise != nil && o.Supervise.Logf == nil {
		s := *o.Supervise
		s.Logf = t.Logf
		o.Supervise = &s
	}
	f, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, stacks := range f.DumpStacks() {
				t.Logf("--- %s: goroutines blocked for minutes\n%s", name, stacks)
			}
		}
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for i, name := range f.Names {
				b, _ := os.ReadFile(strings.TrimSuffix(f.configs[i], ".yaml") + ".log")
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("--- %s.log (tail)\n%s", name, b)
			}
		}
	})
	return f
}

// shortTempDir keeps unix socket paths under their 108-byte limit.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "atl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("ATOLL_E2E_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("kept %s", dir)
		}
	})
	return dir
}
