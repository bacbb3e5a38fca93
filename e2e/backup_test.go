package e2e

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// TestBackupRestore backs up a running site with the atoll binary while it runs, writes
// more, stops the site, checks what restore refuses, restores the backup and starts the
// site again: anti-entropy must bring it level with the others, with every change
// written after the backup.
func TestBackupRestore(t *testing.T) {
	f := start(t, Options{Sites: 3})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := site.LoadConfig(f.configs[2])
	if err != nil {
		t.Fatal(err)
	}
	atoll := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		return string(out), err
	}
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		if err := op.write(ctx, 0, workloadOps("shop", "before"+Seq(k), 2)...); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(ctx, 2, "before", Seq(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	backup := filepath.Join(t.TempDir(), "s02.db")
	out, err := atoll("backup", "--site", f.configs[2], "-f", backup)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("backup: %s", out)
	taken, err := site.VerifyBackup(cfg, backup)
	if err != nil {
		t.Fatal(err)
	}
	if want := " " + taken.Digest + "\n"; !strings.Contains(out, "changes, digest") || !strings.HasSuffix(out, want) {
		t.Fatalf("backup output %q; want the changes and digest %s", out, taken.Digest)
	}
	// -f - writes the same kind of copy to stdout, and its summary to stderr.
	cmd := exec.CommandContext(ctx, binary, "backup", "--site", f.configs[2], "-f", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("backup -f -: %v\n%s", err, stderr.String())
	}
	piped := filepath.Join(t.TempDir(), "piped.db")
	if err := os.WriteFile(piped, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := site.VerifyBackup(cfg, piped); err != nil || !strings.Contains(stderr.String(), "written to stdout") {
		t.Fatalf("backup -f -: copy %v; stderr %q", err, stderr.String())
	}

	// After the backup: changes by site 2 itself and by the operator elsewhere.
	var after []string
	for k := range 5 {
		id, err := f.Write(ctx, 2, "after", Seq(k))
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, id)
		if err := op.write(ctx, 1, workloadOps("shop", "after"+Seq(k), 1)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	sts, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sts[2].Changes <= taken.Changes {
		t.Fatalf("site 2 holds %d changes, the backup %d: the writes after it went nowhere", sts[2].Changes, taken.Changes)
	}

	out, err = atoll("restore", "--site", f.configs[2], "-f", backup)
	if err == nil || !strings.Contains(out, "running") {
		t.Fatalf("restore while site 2 runs: %v\n%s", err, out)
	}
	if err := f.StopSite(2); err != nil {
		t.Fatal(err)
	}

	// A truncated backup is refused, naming it, and the data dir is left byte for byte.
	dir := filepath.Dir(cfg.DataFile())
	before := readDir(t, dir)
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	if err := os.WriteFile(truncated, b[:len(b)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = atoll("restore", "--site", f.configs[2], "-f", truncated)
	if err == nil || !strings.Contains(out, truncated) || !strings.Contains(out, "truncated") {
		t.Fatalf("restore of a truncated backup: %v\n%s", err, out)
	}
	if now := readDir(t, dir); !sameFiles(before, now) {
		t.Fatalf("a refused restore changed the data dir: %v, then %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(now)))
	}

	out, err = atoll("restore", "--site", f.configs[2], "-f", backup)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("restore: %s", out)
	restored, err := site.VerifyBackup(cfg, cfg.DataFile())
	if err != nil || restored.Digest != taken.Digest {
		t.Fatalf("the restored data file: %+v, %v; want the backup's digest %s", restored, err, taken.Digest)
	}
	kept := cfg.DataFile() + ".before-restore-"
	if !strings.Contains(out, kept) {
		t.Fatalf("restore output %q does not name the kept file %s*", out, kept)
	}

	if err := f.StartSite(ctx, 2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	checkConverged(t, f, time.Minute)
	for _, id := range after {
		if ok, err := f.Client(2).Has(ctx, id, 0); err != nil || !ok {
			t.Fatalf("site 2 does not hold its change %s written after the backup (%v)", id[:16], err)
		}
	}
	sts, err = f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("site 2 restored from %d changes and caught up to %d in %v", taken.Changes, sts[2].Changes, time.Since(start).Round(time.Millisecond))
}

// readDir returns the bytes of every file in dir, by name; the API socket is left out.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(data, other) {
			return false
		}
	}
	return true
}
