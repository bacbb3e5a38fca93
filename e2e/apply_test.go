package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestApply runs the atoll binary as a developer would: apply -f with Karmada YAML,
// describe the workload, audit residency; and checks the Deployments in the clusters.
func TestApply(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	env, err := testenv.Start(t.Context(), testenv.Options{Dir: shortTempDir(t), Clusters: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	f := start(t, Options{Sites: 2})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range env.Clusters() {
		kc, err := os.ReadFile(c.AtollKubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Client(i).JoinCluster(ctx, site.JoinRequest{Name: "c" + Seq(i), Kubeconfig: string(kc)}); err != nil {
			t.Fatal(err)
		}
	}
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
	bad := strings.Replace(yaml, "  resourceSelectors:\n  - {apiVersion: apps/v1, kind: Deployment, name: web}\n  placement:", "  propagateDeps: true\n  resourceSelectors:\n  - {apiVersion: apps/v1, kind: Deployment, name: web}\n  placement:", 1)
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := atoll("apply", "-f", badPath, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
	if err == nil || !strings.Contains(out, "bad.yaml:") || !strings.Contains(out, "propagateDeps") {
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
}
