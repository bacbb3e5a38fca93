package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/amend"
)

var charterAcceptedRE = regexp.MustCompile(`charter change ([0-9a-f]{64}) accepted`)

// TestCharterAddRegion adds a region to a running federation: three sites, three admins
// of which two must sign, an operator's workloads; an amendment listing a fourth site
// proposed by one admin and signed by another through the CLI, each with its own key
// file, and submitted; then the fourth site starts with an empty data dir, catches up,
// and the others take it in as a live peer. Along the way: a non-admin's signature is
// refused by `sign`, and a hand-made change with too few signatures by the site.
//
// The new site's share of workloads is not checked: a site without a member cluster
// gets none, and faking a healthy cluster needs the site's own signature.
func TestCharterAddRegion(t *testing.T) {
	f := start(t, Options{Sites: 4, Outside: 1, HTTP: true, Admins: 3, Threshold: 2})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := writeContexts(t, f, 1)
	atoll := func(args ...string) (string, error) {
		out, errOut, err := cliRun(ctx, append([]string{"--atollconfig", cfg}, args...)...)
		return out + errOut, err
	}
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(manifest, []byte(cliYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := atoll("apply", "-f", manifest); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}

	newSite, err := site.LoadKeyFile(f.KeyFile(f.Names[3]))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "add-s03.yaml")
	out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "-m", "a fourth region",
		"--add-site", "name="+f.Names[3]+",key="+site.FormatKey(newSite.Public())+",region=region-0,jurisdiction=EU", "-o", file)
	if err != nil || !strings.Contains(out, "+ site s03 region region-0, jurisdiction EU") || !strings.Contains(out, "awaiting 1 more of admin1, admin2") {
		t.Fatalf("propose: %v\n%s", err, out)
	}
	t.Logf("propose:\n%s", out)
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("operator"), file); err == nil || !strings.Contains(out, "is not an admin") {
		t.Fatalf("sign with the operator's key: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "submit", file); err == nil || !strings.Contains(out, "not enough signatures: 1 of the 2") {
		t.Fatalf("submit with one signature: %v\n%s", err, out)
	}

	// A hand-made change with the author's signature only: the site's crdt refuses it.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := amend.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := site.LoadKeyFile(f.KeyFile("admin"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := crdt.Assemble(c, admin.SignChange(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Client(0).Submit(ctx, env.Encode()); err == nil || !strings.Contains(err.Error(), "charter change has 1 admin signatures, the charter needs 2") {
		t.Fatalf("one-signature charter change: %v", err)
	}

	out, err = atoll("charter", "sign", "--key", f.KeyFile("admin1"), file)
	if err != nil || !strings.Contains(out, "signed by admin1") || !strings.Contains(out, "ready to submit") {
		t.Fatalf("sign by admin1: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin1"), file); err == nil || !strings.Contains(out, "already signed") {
		t.Fatalf("second signature of admin1: %v\n%s", err, out)
	}
	out, err = atoll("charter", "submit", file)
	m := charterAcceptedRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	t.Logf("submit: %s", out)
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// The new region starts from nothing but the genesis, and catches up.
	if err := f.StartSite(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := f.Client(3).Has(ctx, m[1], 0)
	if err != nil || !held {
		t.Fatalf("the new site does not hold the amendment: %v", err)
	}
	v, err := f.Client(0).View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := false
	for _, s := range v.Sites {
		live = live || s.Name == f.Names[3] && s.Live
	}
	if !live || len(v.Workloads) != 2 {
		t.Fatalf("s00's view: s03 live %v, %d workloads", live, len(v.Workloads))
	}

	out, err = atoll("charter", "show", "--context", f.Names[3], "--key", f.KeyFile("admin"))
	if err != nil || !strings.Contains(out, "s03") || !strings.Contains(out, "2 of 3 admin signatures") || !strings.Contains(out, "admin,admin1") {
		t.Fatalf("charter show at the new site: %v\n%s", err, out)
	}
	t.Logf("charter show:\n%s", out)
}
