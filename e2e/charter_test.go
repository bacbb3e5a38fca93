package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/crdt"
	"atoll/deploy/testenv"
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
// With the Kubernetes test binaries (make kube), every site has a real member cluster
// and Deployment fo/web runs 6 replicas with equal weights: once the new site joins its
// cluster, it takes its share, and the ready replicas summed over every cluster (read
// from the kube-apiservers) never fall below 6. Without them, the test skips that part.
func TestCharterAddRegion(t *testing.T) {
	const replicas, joining = 6, 3
	ctx := deadline(t, 5*time.Minute)
	o := Options{Sites: 4, Outside: 1, HTTP: true, Admins: 3, Threshold: 2}
	var r *regionFed
	var f *Fed
	if _, err := testenv.BinDir(); err == nil {
		r = startRegions(t, ctx, o, 3)
		f = r.f
		r.writeWeb(t, ctx, replicas)
	} else {
		t.Log("Kubernetes test binaries missing (make kube): the new region's share is not checked:", err)
		f = start(t, o)
		if err := f.WaitMembers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	atoll := cliAt(ctx, t, f, 1)
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
	if want := map[bool]int{true: 4, false: 2}[r != nil]; !live || len(v.Workloads) != want {
		t.Fatalf("s00's view: s03 live %v, %d workloads, want %d", live, len(v.Workloads), want)
	}

	out, err = atoll("charter", "show", "--context", f.Names[3], "--key", f.KeyFile("admin"))
	if err != nil || !strings.Contains(out, "s03") || !strings.Contains(out, "2 of 3 admin signatures") || !strings.Contains(out, "admin,admin1") {
		t.Fatalf("charter show at the new site: %v\n%s", err, out)
	}
	t.Logf("charter show:\n%s", out)
	if r == nil {
		return
	}

	// The new region joins its cluster and takes its share; the others give theirs up
	// make-before-break.
	all, old := []int{0, 1, 2, 3}, []int{0, 1, 2}
	if _, err := r.obs.until(ctx, "web ready on the first three sites", 2*time.Minute, func(v view) bool {
		return v.sum("web", old, false) == replicas && v.sum("web", old, true) == replicas
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	r.joinCluster(t, ctx, joining)
	minReady := replicas
	hold := time.Time{}
	if _, err := r.obs.until(ctx, "the new region runs its share", 2*time.Minute, func(v view) bool {
		minReady = min(minReady, v.sum("web", all, true))
		settled := v.ready[joining]["web"] > 0 && v.sum("web", all, false) == replicas && v.sum("web", all, true) == replicas
		switch {
		case !settled:
			hold = time.Time{}
		case hold.IsZero():
			hold = time.Now().Add(3 * time.Second) // and it stays so
		}
		return settled && time.Now().After(hold)
	}); err != nil {
		t.Fatal(err)
	}
	if minReady < replicas {
		t.Fatalf("ready replicas fell to %d of %d while the new region took its share", minReady, replicas)
	}
	if _, err := r.cs[joining].CoreV1().ConfigMaps("fo").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap fo/settings in the new region's cluster: %v", err)
	}
	t.Logf("the new region runs its share %v after joining its cluster; min ready %d of %d", time.Since(t0).Round(time.Millisecond), minReady, replicas)
}
