package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/crdt"
	"atoll/deploy/kubeproc"
	"atoll/deploy/testenv"
	"atoll/site"
	"atoll/site/kube"
)

// karmadaTemplates are what a team stored in Karmada: a Deployment, a Service and the
// PropagationPolicy that places them in Karmada's cluster member1.
const karmadaTemplates = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  - {apiVersion: v1, kind: Service, name: web}
  placement:
    clusterAffinity: {clusterNames: [member1]}
`

// karmadaManaged is the label Karmada's controllers put on what they create in a member
// cluster.
const karmadaManaged = "karmada.io/managed"

// karmadaBindingID is the label of Karmada's that carries the permanent ID of the
// ResourceBinding an object in a member cluster comes from.
const karmadaBindingID = "resourcebinding.karmada.io/permanent-id"

// TestImport: atoll import takes over from a running Karmada. Karmada's own control plane
// (v1.18.2, built from the module proxy by make karmada: its API server with its CRDs,
// aggregated API server, webhook, controller manager and scheduler, as real processes)
// places a Deployment and a Service in a real member cluster, where kwok runs the pods.
// Then the cutover: Karmada's controllers stop, the import stores the policy and the
// templates with the cluster renamed, and the site, allowed to adopt, takes over the
// member cluster's Deployment and Service in place: the same ReplicaSet, the same pods.
// With Karmada's control plane gone, Atoll reports the workload and keeps running it.
func TestImport(t *testing.T) {
	karmadaDir := karmadaBuild(t)
	env := startClusters(t, testenv.Options{Clusters: 1})
	f := start(t, Options{Sites: 1, Tune: func(_ int, c *site.Config) {
		c.Admission = kube.Admission{Adopt: true}
		c.Observe, c.Resync = site.Duration(500*time.Millisecond), site.Duration(time.Second)
	}})
	ctx := deadline(t, 5*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	karmada := startKarmada(ctx, t, karmadaDir)
	t.Logf("Karmada's control plane ready in %v", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	member := env.Clusters()[0]
	if err := karmada.join(ctx, "member1", member); err != nil {
		t.Fatal(err)
	}
	applied, err := karmada.kubectl(ctx, karmadaTemplates, "apply", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("applied to Karmada's API server:\n%s", applied)

	// Karmada places them: its Deployment in the member cluster, and the two pods of its
	// ReplicaSet running.
	cs := clientset(t, member.Kubeconfig)
	pods := func() (string, error) {
		l, err := cs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return "", err
		}
		var uids []string
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				uids = append(uids, string(p.UID))
			}
		}
		slices.Sort(uids)
		return strings.Join(uids, ","), nil
	}
	replicaSets := func() (string, error) {
		l, err := cs.AppsV1().ReplicaSets("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return "", err
		}
		var uids []string
		for _, rs := range l.Items {
			uids = append(uids, string(rs.UID))
		}
		return strings.Join(uids, ","), nil
	}
	var before, rsBefore string
	var placed *appsv1.Deployment
	err = kubeproc.Poll(ctx, "Karmada's Deployment and Service in the member cluster, two pods running", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s, err := cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		// Karmada's labels, with the permanent ID its webhook gave the binding.
		if d.Labels[karmadaManaged] != "true" || s.Labels[karmadaManaged] != "true" || d.Labels[karmadaBindingID] == "" {
			return false, fmt.Errorf("labels %v and %v: not Karmada's", d.Labels, s.Labels)
		}
		placed = d
		if before, err = pods(); err != nil || strings.Count(before, ",") != 1 {
			return false, fmt.Errorf("running pods %q: %v", before, err)
		}
		rsBefore, err = replicaSets()
		return err == nil && rsBefore != "" && !strings.Contains(rsBefore, ","), err
	})
	if err != nil {
		if out, err := karmada.kubectl(ctx, "", "get", "clusters,resourcebindings,works", "-A", "-o", "wide"); err == nil {
			t.Logf("Karmada's clusters, bindings and Works:\n%s", out)
		}
		t.Fatal(err)
	}
	t.Logf("Karmada joined member1 and placed the templates, %v after its control plane was ready; the Deployment's labels %v, from Work %s/%s",
		time.Since(begin).Round(time.Millisecond), placed.Labels, placed.Annotations["work.karmada.io/namespace"], placed.Annotations["work.karmada.io/name"])

	// The cutover: Karmada's controllers stop; the site joins the member cluster.
	if err := karmada.stopControllers(); err != nil {
		t.Fatal(err)
	}
	akc, err := os.ReadFile(member.AtollKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Client(0).JoinCluster(ctx, site.JoinRequest{Name: "prod", Kubeconfig: string(akc)}); err != nil {
		t.Fatal(err)
	}

	// An unmapped cluster is an error naming it; then the import.
	atoll := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := atoll("import", "--from", karmada.Kubeconfig, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0]); err == nil || !strings.Contains(out, `Karmada cluster "member1" has no Atoll cluster`) {
		t.Fatalf("import without --cluster: %v\n%s", err, out)
	}
	out, err := atoll("import", "--from", karmada.Kubeconfig, "--cluster", "member1="+f.Names[0]+"/prod", "--adopt",
		"--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
	if err != nil || !strings.Contains(out, "import: 1 policy and 2 templates") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("atoll import:\n%s", out)

	// Adopted in place: Atoll's labels on the Deployment and the Service, Karmada's
	// kept, the same ReplicaSet and the same pods, and the site reports them.
	if err := f.waitFor(ctx, "the Deployment and the Service adopted", func(map[int]site.State) bool {
		d, err1 := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		s, err2 := cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		return err1 == nil && err2 == nil && d.Labels[kube.LabelManaged] == "atoll" && s.Labels[kube.LabelManaged] == "atoll" &&
			d.Labels[karmadaManaged] == "true"
	}); err != nil {
		t.Fatal(err)
	}
	status := func(ready string) {
		t.Helper()
		key := crdt.StatusKey("shop", "web", f.Names[0], "prod")
		if err := f.waitFor(ctx, "status "+key+" ready "+ready, func(map[int]site.State) bool {
			obj, err := f.Client(0).Object(ctx, "status", key)
			return err == nil && obj["ready"].Value == ready && obj["desired"].Value == ready &&
				strings.Contains(obj["conditions"].Value, "Available=True")
		}); err != nil {
			t.Fatal(err)
		}
	}
	status("2")
	if rs, err := replicaSets(); err != nil || rs != rsBefore {
		t.Fatalf("ReplicaSets after the adoption %q (%v), before %q: want the one Karmada's Deployment made", rs, err, rsBefore)
	}
	after, err := pods()
	if err != nil || after != before {
		t.Fatalf("pods after the adoption %q (%v), before %q: want the same pods", after, err, before)
	}
	t.Logf("pods before and after the adoption: %s; ReplicaSet %s", before, rsBefore)

	// Karmada's control plane gone, its objects with it: Atoll runs the workload. Scaled
	// to 3, the same ReplicaSet adds a pod beside the two Karmada's made.
	if err := karmada.stop(); err != nil {
		t.Fatal(err)
	}
	deployment := karmadaTemplates[strings.Index(karmadaTemplates, "apiVersion: apps/v1"):strings.Index(karmadaTemplates, "---\napiVersion: v1\nkind: Service")]
	applyText(ctx, t, f, 0, strings.Replace(deployment, "replicas: 2", "replicas: 3", 1))
	status("3")
	now, err := pods()
	if err != nil || strings.Count(now, ",") != 2 {
		t.Fatalf("running pods after scaling to 3: %q, %v", now, err)
	}
	for _, uid := range strings.Split(before, ",") {
		if !strings.Contains(now, uid) {
			t.Fatalf("pod %s of Karmada's gone after scaling to 3: now %s", uid, now)
		}
	}
	if rs, err := replicaSets(); err != nil || rs != rsBefore {
		t.Fatalf("ReplicaSets after scaling %q (%v), before %q: want the same one", rs, err, rsBefore)
	}
}
