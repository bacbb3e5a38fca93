package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// appYAML is a Deployment and a Service with Karmada policies, as a developer brings them:
// static weights 3:1 between the two sites' clusters and a tag override for one of them.
const appYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 4
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
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [SITE0/c0]}, weight: 3}
        - {targetCluster: {clusterNames: [SITE1/c1]}, weight: 1}
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  overrideRules:
  - targetCluster: {clusterNames: [SITE1/c1]}
    overriders:
      imageOverrider: [{component: Tag, operator: replace, value: "2"}]
`

// batchPolicy is a ClusterPropagationPolicy stored on its own: it places the Deployments
// labelled tier=batch, whole, in the cluster CLUSTER.
const batchPolicy = `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: batch}
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    labelSelector: {matchLabels: {tier: batch}}
  placement:
    clusterAffinity: {clusterNames: [CLUSTER]}
    replicaScheduling: {replicaSchedulingType: Duplicated}
`

// batchApps are two Deployments applied without a policy: one the stored policy selects,
// one no policy selects.
const batchApps = `apiVersion: apps/v1
kind: Deployment
metadata: {name: nightly, namespace: shop, labels: {tier: batch}}
spec:
  replicas: 2
  selector: {matchLabels: {app: nightly}}
  template:
    metadata: {labels: {app: nightly}}
    spec:
      containers: [{name: nightly, image: registry.invalid/nightly:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stray, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: stray}}
  template:
    metadata: {labels: {app: stray}}
    spec:
      containers: [{name: stray, image: registry.invalid/stray:1}]
`

// TestApply runs the atoll binary as a developer would: apply -f with Karmada YAML,
// describe the workload, audit residency; and checks the Deployments in the clusters.
func TestApply(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	f := start(t, Options{Sites: 2})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	atoll := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, binary, args...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := t.TempDir()
	yaml := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1]).Replace(appYAML)
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// A field Atoll does not support is an error with its line, and nothing is written.
	bad := strings.Replace(yaml, "  placement:\n    clusterAffinity:", "  preemption: Always\n  placement:\n    clusterAffinity:", 1)
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := atoll("apply", "-f", badPath, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
	if err == nil || !strings.Contains(out, "bad.yaml:") || !strings.Contains(out, "spec.preemption") {
		t.Fatalf("apply of an unsupported field: err %v, output %q; want an error naming the file, line and field", err, out)
	}
	out, err = atoll("apply", "-f", dir, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "workload shop/web configured") || !strings.Contains(out, "workload shop/service.web configured") {
		t.Fatalf("apply output %q", out)
	}
	cs0, cs1 := clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)
	if err := f.waitFor(ctx, "the Deployments placed 3:1 with the override", func(map[int]site.State) bool {
		d0, err0 := cs0.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		d1, err1 := cs1.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		_, errS := cs1.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		return err0 == nil && err1 == nil && errS == nil && *d0.Spec.Replicas == 3 && *d1.Spec.Replicas == 1 &&
			d0.Spec.Template.Spec.Containers[0].Image == "registry.invalid/web:1" &&
			d1.Spec.Template.Spec.Containers[0].Image == "registry.invalid/web:2"
	}); err != nil {
		t.Fatal(err)
	}
	out, err = atoll("describe", "workload", "shop/web", "--site", f.configs[1])
	if err != nil || !strings.Contains(out, "PropagationPolicy shop/web") || !strings.Contains(out, "c0") || !strings.Contains(out, "rule") {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	t.Logf("describe:\n%s", out)
	out, err = atoll("audit", "residency", "--site", f.configs[0], "--site", f.configs[1])
	if err != nil {
		t.Fatalf("audit residency: %v\n%s", err, out)
	}
	testStoredPolicies(t, f, atoll, cs0, cs1)
}

// testStoredPolicies: policies are stored objects with Karmada's semantics. A policy
// applied alone places the templates applied after it, editing it moves them, deleting it
// removes them, and a template no policy selects is stored but placed nowhere, with a
// condition saying so.
func testStoredPolicies(t *testing.T, f *Fed, atoll func(...string) (string, error), cs0, cs1 *kubernetes.Clientset) {
	ctx := deadline(t, 3*time.Minute)
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := filepath.Join(f.opts.Dir, "operator.key")
	pol := write("batch.yaml", strings.ReplaceAll(batchPolicy, "CLUSTER", f.Names[0]+"/c0"))
	if out, err := atoll("apply", "-f", pol, "--key", key, "--site", f.configs[0]); err != nil || !strings.Contains(out, "matches no manifest in this apply; it is stored") {
		t.Fatalf("apply of a policy alone: %v\n%s", err, out)
	}
	// A policy no site can read whole (signed by a valid operator all the same) takes no
	// part, and every site says why.
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	junk := `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"ClusterPropagationPolicy","metadata":{"name":"junk"},"spec":{"resourceSelectors":[{"apiVersion":"apps/v1","kind":"Deployment"}],"association":true}}`
	if err := op.write(ctx, 0, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindPolicy, Key: "clusterpropagationpolicy/junk", Field: "object", Value: []byte(junk)}); err != nil {
		t.Fatal(err)
	}
	for i := range f.Names {
		if err := f.waitFor(ctx, "the unreadable policy reported at "+f.Names[i], func(map[int]site.State) bool {
			out, err := atoll("get", "policies", "--site", f.configs[i])
			return err == nil && strings.Contains(out, "batch") && strings.Contains(out, "junk") && strings.Contains(out, "spec.association: not supported")
		}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := atoll("apply", "-f", write("apps.yaml", batchApps), "--key", key, "--site", f.configs[1])
	if err != nil || !strings.Contains(out, "shop/stray: no policy of this apply places it") {
		t.Fatalf("apply of templates without policies: %v\n%s", err, out)
	}
	deployment := func(cs *kubernetes.Clientset, name string) bool {
		_, err := cs.AppsV1().Deployments("shop").Get(ctx, name, metav1.GetOptions{})
		return err == nil
	}
	if err := f.waitFor(ctx, "nightly placed in c0 by the stored policy", func(map[int]site.State) bool {
		return deployment(cs0, "nightly") && !deployment(cs1, "nightly")
	}); err != nil {
		t.Fatal(err)
	}
	// stray was in the same change as nightly, so the pass that placed nightly read it too.
	if deployment(cs0, "stray") || deployment(cs1, "stray") {
		t.Fatal("a template no policy selects was placed")
	}
	for i := range f.Names {
		out, err := atoll("describe", "workload", "shop/stray", "--site", f.configs[i])
		if err != nil || !strings.Contains(out, "not placed: no PropagationPolicy or ClusterPropagationPolicy selects it") {
			t.Fatalf("describe of an unplaced template at %s: %v\n%s", f.Names[i], err, out)
		}
	}
	// Editing the policy at the other site moves what it places.
	if err := os.WriteFile(pol, []byte(strings.ReplaceAll(batchPolicy, "CLUSTER", f.Names[1]+"/c1")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := atoll("apply", "-f", pol, "--key", key, "--site", f.configs[1]); err != nil {
		t.Fatalf("apply of the edited policy: %v\n%s", err, out)
	}
	if err := f.waitFor(ctx, "nightly moved to c1 by the edited policy", func(map[int]site.State) bool {
		return !deployment(cs0, "nightly") && deployment(cs1, "nightly")
	}); err != nil {
		t.Fatal(err)
	}
	// Deleting the policy leaves nightly placed nowhere.
	if out, err := atoll("delete", "-f", pol, "--key", key, "--site", f.configs[0]); err != nil {
		t.Fatalf("delete of the policy: %v\n%s", err, out)
	}
	if err := f.waitFor(ctx, "nightly removed with its policy", func(map[int]site.State) bool {
		return !deployment(cs0, "nightly") && !deployment(cs1, "nightly")
	}); err != nil {
		t.Fatal(err)
	}
}
