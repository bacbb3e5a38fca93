package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/deploy/testenv"
	"atoll/site"
)

// kubeAPIPolicy places the Deployments of every namespace in the three sites' clusters.
const kubeAPIPolicy = `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: everywhere}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1, SITE2/c2]}
    replicaScheduling: {replicaSchedulingType: Divided}
`

// kubeAPIDeployment is a Deployment as a developer applies it with kubectl.
const kubeAPIDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NAMESPACE}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1}]
`

// TestKubeAPI: every site serves the federation through a real kube-apiserver of its
// own, and the real kubectl works against it. A ClusterPropagationPolicy and then a
// Deployment applied at site 0 run in the three sites' member clusters; site 1's API
// shows them with their aggregated status; scaling there re-divides; editing the policy
// at site 2 moves the replicas; a write outside site 1's API operator's namespaces is
// refused with an event on the object; kubectl apply --prune removes what left the
// manifests everywhere; deleting at site 0 removes it everywhere.
func TestKubeAPI(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 3})
	bin, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	certPEM := writeServingCert(t, certDir) // kubectl sends no token over plain HTTP
	// Site 0's and site 2's APIs write as operators of every namespace; site 1's as one
	// granted the namespace shop only.
	f := start(t, Options{Sites: 3, HTTP: true, Observers: []string{"audit"},
		Operators: []OperatorSpec{{Name: "shopapi", Namespaces: []string{"shop"}}, {Name: "shopdev", Namespaces: []string{"shop"}},
			{Name: "bankdev", Namespaces: []string{"bank", "shop"}},
			{Name: "platformapi", Namespaces: []string{"*"}}},
		Tune: func(i int, c *site.Config) {
			key := []string{"operator.key", "shopapi.key", "platformapi.key"}[i] // beside the site files
			c.KubeAPI = &site.KubeAPIConfig{OperatorKey: key}
			c.HTTPCert, c.HTTPKey = filepath.Join(certDir, "http.crt"), filepath.Join(certDir, "http.key")
		}})
	ctx := deadline(t, 5*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	kubectl := func(i int, stdin string, args ...string) (string, error) {
		kc := filepath.Join(f.opts.Dir, "data", f.Names[i], "kubeapi", "fedapi", "admin.kubeconfig")
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for i := range f.Names {
		if err := f.waitFor(ctx, "the Kubernetes API of "+f.Names[i], func(map[int]site.State) bool {
			out, err := kubectl(i, "", "get", "clusterpropagationpolicies")
			return err == nil || strings.Contains(out, "No resources found")
		}); err != nil {
			t.Fatal(err)
		}
	}
	pol := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1], "SITE2", f.Names[2]).Replace(kubeAPIPolicy)
	if out, err := kubectl(0, pol, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of the policy at %s: %v\n%s", f.Names[0], err, out)
	}
	if out, err := kubectl(0, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl create namespace at %s: %v\n%s", f.Names[0], err, out)
	}
	if out, err := kubectl(0, strings.ReplaceAll(kubeAPIDeployment, "NAMESPACE", "shop"), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of the Deployment at %s: %v\n%s", f.Names[0], err, out)
	}
	var cs []*kubernetes.Clientset
	for _, c := range env.Clusters() {
		cs = append(cs, clientset(t, c.Kubeconfig))
	}
	replicas := func(i int) int {
		d, err := cs[i].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return -1
		}
		return int(*d.Spec.Replicas)
	}
	if err := f.waitFor(ctx, "the Deployment divided 1:1:1 between the sites' clusters", func(map[int]site.State) bool {
		return replicas(0) == 1 && replicas(1) == 1 && replicas(2) == 1
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.waitFor(ctx, "the Deployment and the policy in the API of "+f.Names[1], func(map[int]site.State) bool {
		d, err1 := kubectl(1, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}")
		p, err2 := kubectl(1, "", "get", "clusterpropagationpolicy", "everywhere", "-o", "name")
		return err1 == nil && d == "3" && err2 == nil && strings.Contains(p, "everywhere")
	}); err != nil {
		t.Fatal(err)
	}
	// The aggregated status is written back: kubectl rollout status returns at site 0 and
	// kubectl wait sees the Deployment Available at site 1.
	if out, err := kubectl(0, "", "rollout", "status", "deployment/web", "-n", "shop", "--timeout", "2m"); err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("kubectl rollout status at %s: %v\n%s", f.Names[0], err, out)
	}
	if out, err := kubectl(1, "", "wait", "--for=condition=Available", "deployment/web", "-n", "shop", "--timeout", "2m"); err != nil {
		t.Fatalf("kubectl wait at %s: %v\n%s", f.Names[1], err, out)
	}
	if out, err := kubectl(1, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}"); err != nil || out != "3/3" {
		t.Fatalf("status at %s: %v %q, want 3/3", f.Names[1], err, out)
	}
	// Per-cluster detail, as Karmada shows it: the template's ResourceBinding.
	binding := func(i int, want string) {
		t.Helper()
		var last string
		if err := f.waitFor(ctx, "the ResourceBinding at "+f.Names[i]+": "+want, func(map[int]site.State) bool {
			out, _ := kubectl(i, "", "get", "resourcebinding", "web-deployment", "-n", "shop", "-o",
				`jsonpath={.spec.clusters[*].name} {.spec.clusters[*].replicas} {.status.aggregatedStatus[*].health} {.status.conditions[?(@.type=="FullyApplied")].status}`)
			last = out
			return out == want
		}); err != nil {
			t.Fatalf("%v; it says %q", err, last)
		}
	}
	c := func(i int) string { return f.Names[i] + "/c" + Seq(i) }
	binding(1, c(0)+" "+c(1)+" "+c(2)+" 1 1 1 Healthy Healthy Healthy True")
	// Scaled at site 1 (its operator is granted shop): divided again everywhere.
	if out, err := kubectl(1, "", "scale", "deployment", "web", "-n", "shop", "--replicas", "6"); err != nil {
		t.Fatalf("kubectl scale at %s: %v\n%s", f.Names[1], err, out)
	}
	if err := f.waitFor(ctx, "the Deployment scaled at site 1, divided 2:2:2", func(map[int]site.State) bool {
		d, err := kubectl(0, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}")
		return replicas(0) == 2 && replicas(1) == 2 && replicas(2) == 2 && err == nil && d == "6"
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(1, "", "rollout", "status", "deployment/web", "-n", "shop", "--timeout", "2m"); err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("kubectl rollout status after scaling at %s: %v\n%s", f.Names[1], err, out)
	}
	if err := f.waitFor(ctx, "6 available in the status at "+f.Names[0], func(map[int]site.State) bool {
		out, err := kubectl(0, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.status.availableReplicas}")
		return err == nil && out == "6"
	}); err != nil {
		t.Fatal(err)
	}
	// The policy edited at site 2 to leave site 1's cluster out: the replicas move.
	moved := strings.Replace(pol, ", "+f.Names[1]+"/c1", "", 1)
	if out, err := kubectl(2, moved, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of the edited policy at %s: %v\n%s", f.Names[2], err, out)
	}
	if err := f.waitFor(ctx, "the replicas moved out of c1, 3:3", func(map[int]site.State) bool {
		return replicas(0) == 3 && replicas(1) == -1 && replicas(2) == 3
	}); err != nil {
		t.Fatal(err)
	}
	binding(1, c(0)+" "+c(2)+" 3 3 Healthy Healthy True")
	testKubeAPIPrune(ctx, t, f, kubectl, cs)
	// Outside the namespaces of site 1's operator: refused, with an event saying why.
	if out, err := kubectl(1, "apiVersion: v1\nkind: Namespace\nmetadata: {name: bank}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl create namespace at %s: %v\n%s", f.Names[1], err, out)
	}
	if out, err := kubectl(1, strings.ReplaceAll(kubeAPIDeployment, "NAMESPACE", "bank"), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply in bank at %s: %v\n%s", f.Names[1], err, out)
	}
	if err := f.waitFor(ctx, "the refusal of bank/web as an event", func(map[int]site.State) bool {
		out, err := kubectl(1, "", "get", "events", "-n", "bank", "--field-selector", "reason=Refused", "-o", "jsonpath={.items[*].message}")
		return err == nil && strings.Contains(out, "not granted")
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(1, "", "wait", "--for=condition=Stored=False", "deployment/web", "-n", "bank", "--timeout", "1m"); err != nil {
		t.Fatalf("the refusal as the condition Stored=False on bank/web: %v\n%s", err, out)
	}
	for i := range f.Names {
		if v, err := f.Client(i).Object(ctx, "workload", "bank/web"); err != nil || v != nil {
			t.Fatalf("%s holds the refused bank/web: %v, %v", f.Names[i], v, err)
		}
	}
	testKubeAPIClusterScoped(ctx, t, f, kubectl)
	testKubeAPIAuth(ctx, t, f, bin, filepath.Join(certDir, "http.crt"), certPEM, cs)

	// Cut off from each other, both APIs keep taking writes; on heal they converge, a
	// ConfigMap both edited to the one value the state's last writer gave it.
	if err := f.Partition(ctx, []int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	cmText := func(name, v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: shop}\ndata: {v: \"" + v + "\"}\n"
	}
	for i, v := range []string{"a", "b"} {
		for _, name := range []string{"from-" + v, "shared"} {
			if out, err := kubectl(i, cmText(name, v), "apply", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply of %s at %s, partitioned: %v\n%s", name, f.Names[i], err, out)
			}
		}
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	value := func(i int, name string) string {
		out, err := kubectl(i, "", "get", "configmap", name, "-n", "shop", "-o", "jsonpath={.data.v}")
		if err != nil {
			return "?"
		}
		return out
	}
	if err := f.waitFor(ctx, "both APIs converged after the partition", func(map[int]site.State) bool {
		shared := value(0, "shared")
		return value(0, "from-a") == "a" && value(0, "from-b") == "b" && value(1, "from-a") == "a" && value(1, "from-b") == "b" &&
			(shared == "a" || shared == "b") && value(1, "shared") == shared
	}); err != nil {
		t.Fatal(err)
	}

	// Deleted at site 0: gone from the clusters and from site 1's API.
	if out, err := kubectl(0, "", "delete", "deployment", "web", "-n", "shop"); err != nil {
		t.Fatalf("kubectl delete at %s: %v\n%s", f.Names[0], err, out)
	}
	if err := f.waitFor(ctx, "the Deployment removed everywhere", func(map[int]site.State) bool {
		out, _ := kubectl(1, "", "get", "deployment", "web", "-n", "shop", "-o", "name")
		return replicas(0) == -1 && replicas(1) == -1 && replicas(2) == -1 && strings.Contains(out, "NotFound")
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.waitFor(ctx, "the ResourceBinding gone with its template", func(map[int]site.State) bool {
		out, _ := kubectl(1, "", "get", "resourcebinding", "web-deployment", "-n", "shop", "-o", "name")
		return strings.Contains(out, "NotFound")
	}); err != nil {
		t.Fatal(err)
	}
}

const kubeAPICRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// testKubeAPIClusterScoped: cluster-scoped templates through the Kubernetes API. At site
// 0, whose API writes as an operator granted cluster scope, a CRD and a PriorityClass
// are stored and reach site 1's API (the CRD installed there, so its kind is served, and
// a Widget written there reaches site 2's);
// at site 2, whose API's operator is not granted cluster scope, a PriorityClass is
// refused with an event, and RBAC gives no one cluster-scoped templates there.
func testKubeAPIClusterScoped(ctx context.Context, t *testing.T, f *Fed, kubectl func(int, string, ...string) (string, error)) {
	t.Helper()
	pc := func(name string) string {
		return "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: " + name + "}\nvalue: 1000\n"
	}
	if out, err := kubectl(0, kubeAPICRD+"---\n"+pc("batch-low"), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of a CRD and a PriorityClass at %s: %v\n%s", f.Names[0], err, out)
	}
	for _, key := range []string{"/customresourcedefinition.widgets.example.com", "/priorityclass.batch-low"} {
		if err := f.waitFor(ctx, key+" in the federation", func(map[int]site.State) bool {
			v, err := f.Client(2).Object(ctx, "workload", key)
			return err == nil && v != nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.waitFor(ctx, "the CRD installed in the API of "+f.Names[1]+" and its kind served", func(map[int]site.State) bool {
		p, err1 := kubectl(1, "", "get", "priorityclass", "batch-low", "-o", "jsonpath={.value}")
		_, err2 := kubectl(1, "", "get", "widgets", "-A")
		return err1 == nil && p == "1000" && err2 == nil
	}); err != nil {
		t.Fatal(err)
	}
	// The CRD's kind is synced too: a Widget written at site 1 (its API's operator is
	// granted shop) is stored and projected at site 2; RBAC gives it to shop's operators.
	widget := "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: shop}\nspec: {size: 2}\n"
	var last string
	if err := f.waitFor(ctx, "kubectl apply of a Widget at "+f.Names[1], func(map[int]site.State) bool {
		last, _ = kubectl(1, widget, "apply", "-f", "-")
		return strings.Contains(last, "widget.example.com/w1 created") || strings.Contains(last, "unchanged")
	}); err != nil {
		t.Fatalf("%v; it says %q", err, last)
	}
	if err := f.waitFor(ctx, "the Widget stored and projected at "+f.Names[2], func(map[int]site.State) bool {
		v, err := f.Client(0).Object(ctx, "workload", "shop/widget.w1")
		last, _ = kubectl(2, "", "get", "widget", "w1", "-n", "shop", "-o", "jsonpath={.spec.size}")
		return err == nil && v != nil && last == "2"
	}); err != nil {
		t.Fatalf("%v; site 2's API says %q", err, last)
	}
	canWidgets := func(want string) {
		t.Helper()
		if err := f.waitFor(ctx, "can-i create widgets in shop as shopdev at "+f.Names[1]+": "+want, func(map[int]site.State) bool {
			last = canI(kubectl, 1, "create", "widgets.example.com", "-n", "shop", "--as", "atoll:operator:shopdev")
			return last == want
		}); err != nil {
			t.Fatalf("%v; it says %q", err, last)
		}
	}
	canWidgets("yes")
	// The CRD deleted at site 0: gone from the federation and from site 1's API, whose
	// controller stops syncing the kind and takes it out of RBAC.
	if out, err := kubectl(0, "", "delete", "crd", "widgets.example.com"); err != nil {
		t.Fatalf("kubectl delete crd at %s: %v\n%s", f.Names[0], err, out)
	}
	if err := f.waitFor(ctx, "the CRD gone from the federation and from the API of "+f.Names[1], func(map[int]site.State) bool {
		v, err := f.Client(2).Object(ctx, "workload", "/customresourcedefinition.widgets.example.com")
		out, _ := kubectl(1, "", "get", "crd", "widgets.example.com", "-o", "name")
		return err == nil && v == nil && strings.Contains(out, "NotFound")
	}); err != nil {
		t.Fatal(err)
	}
	canWidgets("no")
	if out, err := kubectl(2, pc("batch-high"), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of a PriorityClass at %s: %v\n%s", f.Names[2], err, out)
	}
	if err := f.waitFor(ctx, "the refusal of PriorityClass batch-high as an event", func(map[int]site.State) bool {
		out, err := kubectl(2, "", "get", "events", "-n", "default", "--field-selector", "reason=Refused,involvedObject.name=batch-high", "-o", "jsonpath={.items[*].message}")
		return err == nil && strings.Contains(out, "cluster-scoped templates not granted")
	}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Client(0).Object(ctx, "workload", "/priorityclass.batch-high"); err != nil || v != nil {
		t.Fatalf("%s holds the refused PriorityClass batch-high: %v, %v", f.Names[0], v, err)
	}
	// RBAC from the charter: ops (granted cluster scope) may create PriorityClasses
	// through site 0's API, not through site 2's; platformapi (all namespaces, no
	// cluster scope) nowhere.
	for _, c := range []struct {
		i    int
		user string
		want string
	}{{0, "atoll:operator:ops", "yes"}, {2, "atoll:operator:ops", "no"}, {0, "atoll:operator:platformapi", "no"}} {
		if err := f.waitFor(ctx, fmt.Sprintf("can-i create priorityclasses as %s at %s: %s", c.user, f.Names[c.i], c.want), func(map[int]site.State) bool {
			last = canI(kubectl, c.i, "create", "priorityclasses.scheduling.k8s.io", "--as", c.user)
			return last == c.want
		}); err != nil {
			t.Fatalf("%v; it says %q", err, last)
		}
	}
}

// canI is kubectl auth can-i's answer at site i: its last line, after any warning
// (a kind not namespaced, or not served).
func canI(kubectl func(int, string, ...string) (string, error), i int, args ...string) string {
	out, _ := kubectl(i, "", append([]string{"auth", "can-i"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// testKubeAPIAuth: through a site's HTTP server (/k8s), kubectl acts as a charter
// identity, and RBAC written from the charter decides: an operator edits its namespaces
// only, an observer reads, nobody else gets in, and neither impersonation nor the
// front proxy's headers sent by a caller change who it is.
func testKubeAPIAuth(ctx context.Context, t *testing.T, f *Fed, bin, caFile string, caPEM []byte, cs []*kubernetes.Clientset) {
	server := strings.Replace(f.URL(1), "http://", "https://", 1)
	kubeconfig := func(key string) string {
		out, errOut, err := cliRun(ctx, "kubeconfig", "--server", server, "--ca", caFile, "--key", filepath.Join(f.opts.Dir, key))
		if err != nil {
			t.Fatalf("atoll kubeconfig --key %s: %v\n%s", key, err, errOut)
		}
		path := filepath.Join(t.TempDir(), strings.TrimSuffix(key, ".key")+".kubeconfig")
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	kubectl := func(kc, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	shop, audit := kubeconfig("shopdev.key"), kubeconfig("audit.key")
	// RBAC follows the charter once the controller wrote it: wait for the operator's grant.
	var last string
	if err := f.waitFor(ctx, "shopdev may list Deployments in shop", func(map[int]site.State) bool {
		out, err := kubectl(shop, "", "get", "deployments", "-n", "shop", "-o", "name")
		last = out
		return err == nil && strings.Contains(out, "deployment.apps/web")
	}); err != nil {
		t.Fatalf("%v; kubectl said:\n%s", err, last)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {mode: fast}\n"
	if out, err := kubectl(shop, cm, "apply", "-f", "-"); err != nil {
		t.Fatalf("shopdev applying a ConfigMap in shop: %v\n%s", err, out)
	}
	bank := strings.ReplaceAll(kubeAPIDeployment, "NAMESPACE", "bank")
	for _, as := range [][]string{nil, {"--as", "atoll:operator:ops"}, {"--as", "admin", "--as-group", "system:masters"}} {
		if out, err := kubectl(shop, bank, append([]string{"apply", "-f", "-"}, as...)...); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
			t.Fatalf("shopdev writing in bank (%v): %v\n%s; want forbidden", as, err, out)
		}
	}
	// An operator the charter grants bank is still refused bank at once at a site whose
	// API may not write there (its own operator is granted shop only).
	bankdev := kubeconfig("bankdev.key")
	if out, err := kubectl(bankdev, bank, "apply", "-f", "-"); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("bankdev writing in bank through a site whose API may not: %v\n%s; want forbidden", err, out)
	}
	if out, err := kubectl(bankdev, "", "get", "configmaps", "-n", "shop", "-o", "name"); err != nil {
		t.Fatalf("bankdev reading shop: %v\n%s", err, out)
	}
	if out, err := kubectl(audit, "", "get", "resourcebindings", "-n", "shop", "-o", "name"); err != nil || !strings.Contains(out, "web-deployment") {
		t.Fatalf("the observer reading ResourceBindings: %v\n%s", err, out)
	}
	if out, err := kubectl(shop, "", "delete", "resourcebinding", "web-deployment", "-n", "shop"); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("shopdev deleting a ResourceBinding: %v\n%s; want forbidden (the site writes them)", err, out)
	}
	if out, err := kubectl(audit, "", "get", "deployments", "-A", "-o", "name"); err != nil || !strings.Contains(out, "deployment.apps/web") {
		t.Fatalf("the observer listing Deployments: %v\n%s", err, out)
	}
	if out, err := kubectl(audit, strings.Replace(cm, "fast", "slow", 1), "apply", "-f", "-"); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("the observer writing: %v\n%s; want forbidden", err, out)
	}
	// Secret values are not the readers': neither Secrets nor override policies (which
	// may set them) are served to an observer, nor to an operator outside its namespaces.
	for _, kind := range []string{"secrets", "overridepolicies", "clusteroverridepolicies"} {
		if out, err := kubectl(audit, "", "get", kind, "-A"); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
			t.Fatalf("the observer listing %s: %v\n%s; want forbidden", kind, err, out)
		}
	}
	if out, err := kubectl(shop, "", "get", "secrets", "-n", "bank"); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("shopdev listing Secrets in bank: %v\n%s; want forbidden", err, out)
	}
	if out, err := kubectl(shop, "", "get", "secrets", "-n", "shop"); err != nil {
		t.Fatalf("shopdev listing Secrets in its namespace: %v\n%s", err, out)
	}
	// No credential: 401, whatever front-proxy headers it sends.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/k8s/api/v1/namespaces/shop/configmaps", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Remote-User", "atoll:operator:ops")
	req.Header.Set("X-Remote-Group", "system:masters")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an anonymous caller with front-proxy headers: %d, want 401", resp.StatusCode)
	}
	testKubeAPIHelm(ctx, t, f, shop, cs)
	// What shopdev applied through site 1's HTTP server is the federation's.
	if err := f.waitFor(ctx, "shop/configmap.settings at "+f.Names[0], func(map[int]site.State) bool {
		v, err := f.Client(0).Object(ctx, "workload", "shop/configmap.settings")
		return err == nil && v != nil
	}); err != nil {
		t.Fatal(err)
	}
}

// helmChart is a chart as a team ships it with Karmada: a Deployment, a Service and a
// ConfigMap, and the PropagationPolicy that places them in both sites' clusters.
var helmChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
	"values.yaml": "replicas: 2\ngreeting: hello\nclusters: []\n",
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-config}
data: {greeting: {{ .Values.greeting | quote }}}
`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers: [{name: hello, image: registry.invalid/hello:1}]
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80}]
`,
	"templates/policy.yaml": `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: {{ .Release.Name }}}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}}
  - {apiVersion: v1, kind: Service, name: {{ .Release.Name }}}
  - {apiVersion: v1, kind: ConfigMap, name: {{ .Release.Name }}-config}
  placement:
    clusterAffinity: {clusterNames: {{ toJson .Values.clusters }}}
    replicaScheduling: {replicaSchedulingType: Divided}
`,
}

// testKubeAPIHelm: the real helm installs, upgrades and uninstalls a chart through site
// 1's Kubernetes API as an operator of shop, and the member clusters follow.
func testKubeAPIHelm(ctx context.Context, t *testing.T, f *Fed, kubeconfig string, cs []*kubernetes.Clientset) {
	dir := t.TempDir()
	for name, text := range helmChart {
		path := filepath.Join(dir, "hello", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	helm := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, helmBinary(t), append(args, "--kubeconfig", kubeconfig, "-n", "shop")...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	clusters := "clusters={" + f.Names[0] + "/c0," + f.Names[1] + "/c1}"
	// what each member cluster runs of the release: replicas and greeting; -1 and "" if absent.
	runs := func(i int) (int, string, bool) {
		d, err := cs[i].AppsV1().Deployments("shop").Get(ctx, "rel", metav1.GetOptions{})
		cm, err2 := cs[i].CoreV1().ConfigMaps("shop").Get(ctx, "rel-config", metav1.GetOptions{})
		_, err3 := cs[i].CoreV1().Services("shop").Get(ctx, "rel", metav1.GetOptions{})
		if err != nil || err2 != nil || err3 != nil {
			return -1, "", err == nil || err2 == nil || err3 == nil
		}
		return int(*d.Spec.Replicas), cm.Data["greeting"], true
	}
	helm("install", "rel", filepath.Join(dir, "hello"), "--set", clusters)
	if err := f.waitFor(ctx, "the release in both clusters", func(map[int]site.State) bool {
		r0, g0, _ := runs(0)
		r1, g1, _ := runs(1)
		return r0 == 1 && r1 == 1 && g0 == "hello" && g1 == "hello"
	}); err != nil {
		t.Fatal(err)
	}
	helm("upgrade", "rel", filepath.Join(dir, "hello"), "--set", clusters, "--set", "replicas=4", "--set", "greeting=hi")
	if err := f.waitFor(ctx, "the upgrade in both clusters", func(map[int]site.State) bool {
		r0, g0, _ := runs(0)
		r1, g1, _ := runs(1)
		return r0 == 2 && r1 == 2 && g0 == "hi" && g1 == "hi"
	}); err != nil {
		t.Fatal(err)
	}
	helm("uninstall", "rel")
	if err := f.waitFor(ctx, "the release gone from both clusters", func(map[int]site.State) bool {
		_, _, any0 := runs(0)
		_, _, any1 := runs(1)
		return !any0 && !any1
	}); err != nil {
		t.Fatal(err)
	}
}

// helmBinary is the helm CLI `make helm` builds.
func helmBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", "../hack/helm/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("hack/helm/build.sh --print-dir: %v (make helm builds it)", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "helm")
}

// testKubeAPIPrune: kubectl apply --prune at site 0 of a directory of manifests, then of
// the same directory with one manifest removed: the workload that left it is deleted
// from every member cluster and from every site's API, and the one still there stays.
func testKubeAPIPrune(ctx context.Context, t *testing.T, f *Fed, kubectl func(int, string, ...string) (string, error), cs []*kubernetes.Clientset) {
	dir := t.TempDir()
	for _, name := range []string{"keep", "drop"} {
		text := strings.NewReplacer("name: web", "name: "+name, "{app: web}", "{app: "+name+"}",
			"namespace: NAMESPACE}", "namespace: shop, labels: {tier: batch}}").Replace(kubeAPIDeployment)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prune := []string{"apply", "--prune", "-l", "tier=batch", "-f", dir}
	if out, err := kubectl(0, "", prune...); err != nil {
		t.Fatalf("kubectl %s at %s: %v\n%s", strings.Join(prune, " "), f.Names[0], err, out)
	}
	runs := func(i int, name string) bool {
		_, err := cs[i].AppsV1().Deployments("shop").Get(ctx, name, metav1.GetOptions{})
		return err == nil
	}
	if err := f.waitFor(ctx, "keep and drop in c0 and c2", func(map[int]site.State) bool {
		return runs(0, "keep") && runs(0, "drop") && runs(2, "keep") && runs(2, "drop")
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "drop.yaml")); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(0, "", prune...)
	if err != nil || !strings.Contains(out, "deployment.apps/drop pruned") {
		t.Fatalf("kubectl %s at %s without drop.yaml: %v\n%s; want drop pruned", strings.Join(prune, " "), f.Names[0], err, out)
	}
	if err := f.waitFor(ctx, "drop pruned from every cluster and API, keep still running", func(map[int]site.State) bool {
		for i := range f.Names {
			if out, _ := kubectl(i, "", "get", "deployment", "drop", "-n", "shop", "-o", "name"); !strings.Contains(out, "NotFound") {
				return false
			}
		}
		return !runs(0, "drop") && !runs(2, "drop") && runs(0, "keep") && runs(2, "keep")
	}); err != nil {
		t.Fatal(err)
	}
}
