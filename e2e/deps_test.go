package e2e

import (
	"context"
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

// depsApp is a Deployment whose pods use a ConfigMap and a Secret, placed by a policy
// with propagateDeps, and a ConfigMap nothing uses; no policy places the ConfigMaps or
// the Secret themselves.
const depsApp = `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: web-token, namespace: shop}
stringData: {token: s3cret}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unused, namespace: shop}
data: {x: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        envFrom: [{configMapRef: {name: web-config}}]
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: web-token, key: token}}}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  propagateDeps: true
  placement:
    clusterAffinity: {clusterNames: [CLUSTER]}
`

// TestPropagateDeps: with propagateDeps, the ConfigMap and the Secret a Deployment's pods
// use go to exactly the clusters that run it, and nothing else does; when the policy
// moves the Deployment they move with it, and one its pods stop using leaves.
func TestPropagateDeps(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	f := start(t, Options{Sites: 2})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	cs := []*kubernetes.Clientset{clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)}
	apply := func(text string) { t.Helper(); applyText(ctx, t, f, 0, text) }
	// holds lists what cluster i holds of the app, in a fixed order.
	holds := func(i int) string {
		var out []string
		if _, err := cs[i].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err == nil {
			out = append(out, "web")
		}
		for _, name := range []string{"web-config", "unused"} {
			if _, err := cs[i].CoreV1().ConfigMaps("shop").Get(ctx, name, metav1.GetOptions{}); err == nil {
				out = append(out, name)
			}
		}
		if _, err := cs[i].CoreV1().Secrets("shop").Get(ctx, "web-token", metav1.GetOptions{}); err == nil {
			out = append(out, "web-token")
		}
		return strings.Join(out, ",")
	}
	expect := func(what, c0, c1 string) {
		t.Helper()
		var last [2]string
		if err := f.waitFor(ctx, what, func(map[int]site.State) bool {
			last = [2]string{holds(0), holds(1)}
			return last[0] == c0 && last[1] == c1
		}); err != nil {
			t.Fatalf("%v; c0 holds %q, c1 %q", err, last[0], last[1])
		}
	}
	app := strings.ReplaceAll(depsApp, "CLUSTER", f.Names[0]+"/c0")
	apply(app)
	expect("the Deployment and what its pods use in c0 only", "web,web-config,web-token", "")

	// The policy moves the Deployment to c1: its dependencies follow, and leave c0.
	apply(strings.ReplaceAll(depsApp, "CLUSTER", f.Names[1]+"/c1"))
	expect("the Deployment and its dependencies moved to c1", "", "web,web-config,web-token")

	// Its pods stop using the ConfigMap: the ConfigMap leaves c1, the Secret stays.
	apply(strings.Replace(strings.ReplaceAll(depsApp, "CLUSTER", f.Names[1]+"/c1"),
		"        envFrom: [{configMapRef: {name: web-config}}]\n", "", 1))
	expect("the ConfigMap no pod uses gone from c1", "", "web,web-token")
}

// applyText runs atoll apply at site i with text as the file, as the operator of every
// namespace, and fails the test if it fails.
func applyText(ctx context.Context, t *testing.T, f *Fed, i int, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, binary, "apply", "-f", path, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[i]).CombinedOutput()
	if err != nil {
		t.Fatalf("atoll apply: %v\n%s", err, out)
	}
}
