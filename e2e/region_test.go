package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
	"atoll/site/kube"
)

// regionFed is a federation whose sites each join one real member cluster, "k0".
type regionFed struct {
	f   *Fed
	env *testenv.Env
	cs  []*kubernetes.Clientset // by site
	obs *observer               // reads namespace "fo" in every cluster
}

// startRegions starts the member clusters and the federation; the first joined sites
// join their cluster (the others have none until joinCluster).
func startRegions(t *testing.T, ctx context.Context, o Options, joined int) *regionFed {
	t.Helper()
	env, err := testenv.Start(ctx, testenv.Options{Dir: shortTempDir(t), Clusters: o.Sites, NodesPerCluster: 2, NodeCPU: "32", NodeMemory: "64Gi"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	r := &regionFed{env: env}
	for _, c := range env.Clusters() {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.QPS, cfg.Burst = 100, 200
		k, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.cs = append(r.cs, k)
	}
	r.obs = &observer{cs: r.cs, names: []string{"web"}}
	tune := o.Tune
	o.Tune = func(i int, c *site.Config) {
		c.Observe = site.Duration(500 * time.Millisecond)
		c.Membership = site.MembershipConfig{ProbeInterval: site.Duration(500 * time.Millisecond), ProbeTimeout: site.Duration(250 * time.Millisecond), SuspicionMult: 2, SuspicionMaxTimeoutMult: 2}
		if tune != nil {
			tune(i, c)
		}
	}
	r.f = start(t, o)
	if err := r.f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range joined {
		r.joinCluster(t, ctx, i)
	}
	return r
}

// joinCluster joins site i's cluster and waits until site 0 sees it healthy.
func (r *regionFed) joinCluster(t *testing.T, ctx context.Context, i int) {
	t.Helper()
	kc, err := os.ReadFile(r.env.Clusters()[i].AtollKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.f.Client(i).JoinCluster(ctx, site.JoinRequest{Name: "k0", Kubeconfig: string(kc)}); err != nil {
		t.Fatal(err)
	}
	for {
		obj, err := r.f.Client(0).Object(ctx, "cluster", r.f.Names[i]+"/k0")
		if err == nil && obj["health"].Value == "healthy" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/k0 not healthy at %s: %v", r.f.Names[i], r.f.Names[0], ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeWeb writes Deployment fo/web with replicas, and ConfigMap fo/settings (a kind
// without replicas: placed whole in every cluster).
func (r *regionFed) writeWeb(t *testing.T, ctx context.Context, replicas int) {
	t.Helper()
	op, err := newOperatorFor(r.f)
	if err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
	set := func(f, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "fo/settings", Field: f, Value: []byte(v)}
	}
	ops := append(workloadOps("fo", "web", replicas), set("apiVersion", "v1"), set("kind", "ConfigMap"), set("template", cm))
	if err := op.write(ctx, 0, ops...); err != nil {
		t.Fatal(err)
	}
}

// atollObjects lists the objects labelled as Atoll's in a cluster, as the member
// cluster's kube-apiserver answers (namespaces aside: Atoll never deletes those).
func atollObjects(ctx context.Context, cs *kubernetes.Clientset) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: kube.LabelManaged + "=atoll"}
	var out []string
	deps, err := cs.AppsV1().Deployments("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		out = append(out, "deployment "+d.Namespace+"/"+d.Name)
	}
	sts, err := cs.AppsV1().StatefulSets("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, d := range sts.Items {
		out = append(out, "statefulset "+d.Namespace+"/"+d.Name)
	}
	cms, err := cs.CoreV1().ConfigMaps("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, d := range cms.Items {
		out = append(out, "configmap "+d.Namespace+"/"+d.Name)
	}
	svcs, err := cs.CoreV1().Services("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, d := range svcs.Items {
		out = append(out, "service "+d.Namespace+"/"+d.Name)
	}
	secs, err := cs.CoreV1().Secrets("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, d := range secs.Items {
		out = append(out, "secret "+d.Namespace+"/"+d.Name)
	}
	return out, nil
}

// TestCharterRemoveRegion removes a region from a running federation: four sites, each
// with a real member cluster, run Deployment fo/web (8 replicas, equal weights) and
// ConfigMap fo/settings; Deployment fo/solo (2 replicas) is pinned to s03's cluster.
// Two amendments signed by 2 of 3 admins on separate key files drain site s03, then
// remove it. Throughout, web's ready replicas summed over every cluster (read from the
// kube-apiservers) never fall below 8; the other three end with all 8, and the
// ConfigMap. solo has nowhere else to go, so s03 keeps running it while draining, and
// the CLI refuses to remove s03 (it still runs replicas) until --force; removed, s03
// deletes solo and every other object of Atoll from its cluster. Along the way the CLI
// also refuses to remove s03 before it is drained, and to submit the removal elsewhere.
func TestCharterRemoveRegion(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	const replicas, leaving = 8, 3
	ctx := deadline(t, 6*time.Minute)
	r := startRegions(t, ctx, Options{Sites: 4, HTTP: true, Admins: 3, Threshold: 2}, 4)
	f := r.f
	atoll := cliAt(ctx, t, f, 0)
	r.writeWeb(t, ctx, replicas)
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	solo := append(workloadOps("fo", "solo", 2), crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "fo/solo", Field: "placement",
		Value: []byte(`{"clusterAffinity":{"clusterNames":["s03/k0"]}}`)})
	if err := op.write(ctx, 0, solo...); err != nil {
		t.Fatal(err)
	}
	all, rest := []int{0, 1, 2, 3}, []int{0, 1, 2}
	configMaps := func(clusters []int) bool {
		for _, c := range clusters {
			if _, err := r.cs[c].CoreV1().ConfigMaps("fo").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
				return false
			}
		}
		return true
	}
	if _, err := r.obs.until(ctx, "web placed on every site and ready", 2*time.Minute, func(v view) bool {
		return v.sum("web", all, false) == replicas && v.sum("web", all, true) == replicas && v.spec[leaving]["web"] > 0 && configMaps(all) &&
			v.ready[leaving]["solo"] == 2
	}); err != nil {
		t.Fatal(err)
	}

	// Removing a site that still has its share is refused, naming the problem.
	out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--remove-site", "s03", "-o", filepath.Join(t.TempDir(), "early.yaml"))
	if err == nil || !strings.Contains(out, `remove site "s03": it is not drained`) {
		t.Fatalf("remove before the drain: %v\n%s", err, out)
	}

	// Step 1: drain s03. Its share moves make-before-break.
	drain := filepath.Join(t.TempDir(), "drain-s03.yaml")
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--drain-site", "s03", "-m", "s03 leaves", "-o", drain); err != nil || !strings.Contains(out, ", draining") {
		t.Fatalf("propose the drain: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin1"), drain); err != nil || !strings.Contains(out, "ready to submit") {
		t.Fatalf("sign the drain: %v\n%s", err, out)
	}
	minReady := replicas
	track := func(v view) {
		minReady = min(minReady, v.sum("web", all, true))
	}
	t0 := time.Now()
	if out, err := atoll("charter", "submit", drain); err != nil {
		t.Fatalf("submit the drain: %v\n%s", err, out)
	}
	if _, err := r.obs.until(ctx, "s03's share moved to the others", 2*time.Minute, func(v view) bool {
		track(v)
		return v.sum("web", rest, false) == replicas && v.sum("web", rest, true) == replicas && !v.exists[leaving]["web"] &&
			v.ready[leaving]["solo"] == 2 // solo has nowhere else to go: s03 keeps it
	}); err != nil {
		t.Fatal(err)
	}
	drained := time.Since(t0)
	if minReady < replicas {
		t.Fatalf("ready replicas fell to %d of %d during the drain", minReady, replicas)
	}

	// Step 2: remove s03, once s00's view shows it running solo only. It still runs
	// replicas: refused, naming them, unless --force.
	for {
		v, err := f.Client(0).View(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := false
		for _, s := range v.Sites {
			done = done || s.Name == "s03" && s.Draining && s.Desired == 2 && s.Ready == 2
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("s00's view never shows s03 drained but for solo: %+v", v.Sites)
		case <-time.After(100 * time.Millisecond):
		}
	}
	remove := filepath.Join(t.TempDir(), "remove-s03.yaml")
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--remove-site", "s03", "-o", remove); err == nil || !strings.Contains(out, `remove site "s03": it still runs replicas: 2 desired, 2 ready`) {
		t.Fatalf("remove while s03 runs solo: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--remove-site", "s03", "--force", "-o", remove); err != nil || !strings.Contains(out, "- site s03") {
		t.Fatalf("propose the removal: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin2"), remove); err != nil || !strings.Contains(out, "ready to submit") {
		t.Fatalf("sign the removal: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "submit", remove); err == nil || !strings.Contains(out, "submit it to the removed site (--context s03)") {
		t.Fatalf("submit the removal to s00: %v\n%s", err, out)
	}
	t1 := time.Now()
	if out, err := atoll("charter", "submit", remove, "--context", "s03"); err != nil {
		t.Fatalf("submit the removal to s03: %v\n%s", err, out)
	}
	// s03 learns it was removed, cleans its cluster and writes nothing more; the others
	// hold the change and the full count.
	var left []string
	for {
		st, err := f.Client(leaving).State(ctx)
		if err == nil && st.Removed {
			if left, err = atollObjects(ctx, r.cs[leaving]); err == nil && len(left) == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("s03 removed %v, Atoll's objects left in its cluster: %v (%v)", st.Removed, left, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cleaned := time.Since(t1)
	if _, err := f.Client(leaving).Write(ctx, site.WriteRequest{Ops: []site.WriteOp{{Op: "set", Kind: "cluster", Key: "s03/k0", Field: "health", Value: "healthy"}}}); err == nil || !strings.Contains(err.Error(), "removed from the charter") {
		t.Errorf("a write at the removed site: %v", err)
	}
	for _, i := range rest {
		for {
			st, err := f.Client(i).Charter(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Charter.Sites) == 3 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s still lists %d sites", f.Names[i], len(st.Charter.Sites))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	hold := time.Now().Add(3 * time.Second) // and it stays so
	if _, err := r.obs.until(ctx, "the others hold the full count", time.Minute, func(v view) bool {
		track(v)
		ok := v.sum("web", rest, false) == replicas && v.sum("web", rest, true) == replicas && len(v.exists[leaving]) == 0 && configMaps(rest)
		return ok && time.Now().After(hold)
	}); err != nil {
		t.Fatal(err)
	}
	if minReady < replicas {
		t.Fatalf("ready replicas fell to %d of %d", minReady, replicas)
	}
	t.Logf("drain: share moved in %v; removal: s03's cluster cleaned in %v; min ready %d of %d", drained.Round(time.Millisecond), cleaned.Round(time.Millisecond), minReady, replicas)
}
