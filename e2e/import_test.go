package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/deploy/crds"
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

// karmadaLabels are the labels and annotations Karmada's controllers put on what they
// create in a member cluster.
const karmadaLabels = `
  labels:
    karmada.io/managed: "true"
    propagationpolicy.karmada.io/permanent-id: 7d0f2c9e-1b7a-4c55-9d31-0c3f6e1a2b44
    resourcebinding.karmada.io/permanent-id: 5a9e1f03-8c2d-4b6e-a7f1-2d4c6b8e0a91
  annotations:
    propagationpolicy.karmada.io/name: web
    propagationpolicy.karmada.io/namespace: shop
    resourcebinding.karmada.io/name: RB
    resourcebinding.karmada.io/namespace: shop
    work.karmada.io/name: WORK
    work.karmada.io/namespace: karmada-es-member1
    resourcetemplate.karmada.io/managed-labels: app
`

// TestImport: atoll import takes over from a Karmada control plane. A real kube-apiserver
// with Karmada's policy CRDs, installed unchanged, stands in for Karmada's API server
// (Karmada's controllers are not run: what they made in the member cluster is made here
// as they label it). The import stores the policy and the templates with the cluster
// renamed, and the site, allowed to adopt, takes over the member cluster's Deployment and
// Service in place: the same pods keep running.
func TestImport(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	bin, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, Options{Sites: 1, Tune: func(i int, c *site.Config) { c.Admission = kube.Admission{Adopt: true} }})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	karmada, member := env.Clusters()[0], env.Clusters()[1]
	kubectl := func(kubeconfig, stdin string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Karmada's side: its CRDs, the templates and the policy.
	for _, file := range crds.Files {
		y, err := crds.Read(file)
		if err != nil {
			t.Fatal(err)
		}
		kubectl(karmada.Kubeconfig, string(y), "apply", "--server-side", "-f", "-")
	}
	kubectl(karmada.Kubeconfig, "", "wait", "--for=condition=Established", "crd", "--all", "--timeout=1m")
	kubectl(karmada.Kubeconfig, karmadaTemplates, "apply", "-f", "-")

	// The member cluster: what Karmada's controllers made there from them, running.
	memberObjs := strings.Replace(karmadaTemplates[:strings.Index(karmadaTemplates, "---\napiVersion: policy")], "metadata: {name: web, namespace: shop, labels: {app: web}}",
		"metadata:\n  name: web\n  namespace: shop"+strings.Replace(karmadaLabels, "    karmada.io/managed", "    app: web\n    karmada.io/managed", 1), 1)
	memberObjs = strings.Replace(memberObjs, "metadata: {name: web, namespace: shop}\nspec:\n  selector", "metadata:\n  name: web\n  namespace: shop"+karmadaLabels+"spec:\n  selector", 1)
	kubectl(member.Kubeconfig, memberObjs, "apply", "-f", "-")
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
	var before string
	if err := f.waitFor(ctx, "Karmada's two pods running in the member cluster", func(map[int]site.State) bool {
		before, err = pods()
		return err == nil && strings.Count(before, ",") == 1
	}); err != nil {
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
	out, err := atoll("import", "--from", karmada.Kubeconfig, "--cluster", "member1="+f.Names[0]+"/prod",
		"--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
	if err != nil || !strings.Contains(out, "import: 1 policy and 2 templates") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("atoll import:\n%s", out)

	// Adopted in place: Atoll's labels on the Deployment and the Service, Karmada's
	// kept, the same pods.
	if err := f.waitFor(ctx, "the Deployment and the Service adopted", func(map[int]site.State) bool {
		d, err1 := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		s, err2 := cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		return err1 == nil && err2 == nil && d.Labels[kube.LabelManaged] == "atoll" && s.Labels[kube.LabelManaged] == "atoll"
	}); err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rs.Items) != 1 {
		t.Fatalf("ReplicaSets after the adoption: %d, %v; want the one Karmada's Deployment made", len(rs.Items), err)
	}
	after, err := pods()
	if err != nil || after != before {
		t.Fatalf("pods after the adoption %q (%v), before %q: want the same pods", after, err, before)
	}
	t.Logf("pods before and after the adoption: %s", fmt.Sprint(before))
}
