package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"atoll/deploy/testenv"
)

// TestFailover kills a site running part of every workload and checks that the
// survivors' real clusters reach the full ready count, that failback never drops ready
// replicas below the policy nor leaves extra ones, and that the EU-bound workload never
// runs outside EU. Timings are reported, not asserted (docs/BENCHMARKS.md has them).
func TestFailover(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	ctx := deadline(t, 8*time.Minute)
	dir := shortTempDir(t)
	rep, err := RunFailover(ctx, Options{Dir: dir, Binary: binary}, 3, 6)
	if err != nil {
		for _, name := range []string{"s00", "s03"} {
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- %s.log (tail)\n%s", name, b)
		}
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.ResidencyViolations != 0 || rep.DuplicatedAfterHeal != 0 || rep.DeletedAfterHeal != 0 {
		t.Errorf("residency violations %d, duplicated after heal %d, deleted after heal %d; want all 0",
			rep.ResidencyViolations, rep.DuplicatedAfterHeal, rep.DeletedAfterHeal)
	}
	if rep.MinReadyDuringFailback < rep.Replicas {
		t.Errorf("ready replicas fell to %d of %d during failback", rep.MinReadyDuringFailback, rep.Replicas)
	}
}
