package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildVersion builds atoll from this source, like TestMain, with main.version set.
func buildVersion(t *testing.T, version string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "atoll-"+version)
	build := exec.CommandContext(t.Context(), "go", "build", "-ldflags", "-X main.version="+version, "-o", path, "atoll/cmd/atoll")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building atoll %s: %v", version, err)
	}
	return path
}

// TestRollingUpgrade replaces each process's binary in turn, SIGTERM then restart on a
// binary of another version, while writes continue at random processes: 4 sites, site 0
// as 3 Raft replicas. No acknowledged write may be lost, writes must be acknowledged
// during every restart, and the federation must converge. The upgrade's stops are the
// harness's; any other exit is restarted by the supervisor, as systemd would.
func TestRollingUpgrade(t *testing.T) {
	const next = "v-next"
	bin := buildVersion(t, next)
	f := start(t, Options{Sites: 4, Replicas: 3, Supervise: &Supervisor{}})
	ctx := deadline(t, 4*time.Minute)
	leaderOf0(t, ctx, f)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := f.Upgrade(ctx, UpgradeTarget{Binary: bin, Version: next})
	if err != nil {
		t.Fatalf("seed %d: %v", rep.Seed, err)
	}
	for i, v := range rep.From {
		if v != "dev" {
			t.Errorf("process %d ran version %q before the upgrade, want dev", i, v)
		}
	}
	for _, r := range rep.Restarts {
		t.Logf("%-7s %-8s stop %4d ms, start %4d ms, ready %5d ms (as %s), %3d writes acknowledged meanwhile", r.Name, r.Role, r.StopMs, r.StartMs, r.ReadyMs, r.After, r.Writes)
		if r.Writes == 0 {
			t.Errorf("seed %d: no write acknowledged while %s (%s) restarted", rep.Seed, r.Name, r.Role)
		}
	}
	if len(rep.Restarts) != len(f.Names) {
		t.Fatalf("%d restarts for %d processes", len(rep.Restarts), len(f.Names))
	}
	t.Logf("seed %d: upgrade %d ms; %d writes acknowledged, %d refused; longest gap between acknowledged writes %d ms (by site: %v)", rep.Seed, rep.UpgradeMs, rep.Writes, rep.Refused, rep.GapMs, rep.SiteGapMs)
	checkConverged(t, f, time.Minute)
	sts, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range sts {
		if st.Version != next {
			t.Errorf("process %d runs version %q after the upgrade, want %s", i, st.Version, next)
		}
	}
}
