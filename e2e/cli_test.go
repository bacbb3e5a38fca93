package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"atoll/deploy/testenv"
	"atoll/site"
)

// cliYAML is a Deployment and a ConfigMap with no policy.
const cliYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: fast}
`

// cliPolicy places every Deployment, divided among the clusters.
const cliPolicy = `---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: deployments}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling: {replicaSchedulingType: Divided}
`

// cliRun runs the atoll binary and returns its stdout and stderr.
func cliRun(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// writeContexts writes a context file: one context per site, through its HTTP server
// (the current one is site cur), and "local-0" through site 0's unix socket.
func writeContexts(t *testing.T, f *Fed, cur int) string {
	t.Helper()
	key := filepath.Join(f.opts.Dir, "operator.key")
	var b strings.Builder
	fmt.Fprintf(&b, "current-context: %s\ncontexts:\n", f.Names[cur])
	for i, name := range f.Names {
		fmt.Fprintf(&b, "- name: %s\n  server: %s\n  key: %s\n", name, f.URL(i), key)
	}
	fmt.Fprintf(&b, "- name: local-0\n  site: %s\n  key: %s\n", f.configs[0], key)
	path := filepath.Join(t.TempDir(), "atoll.config")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliAt returns a runner of the atoll binary with a context file whose current context is
// site cur: it returns stdout and stderr together.
func cliAt(ctx context.Context, t *testing.T, f *Fed, cur int) func(args ...string) (string, error) {
	cfg := writeContexts(t, f, cur)
	return func(args ...string) (string, error) {
		out, errOut, err := cliRun(ctx, append([]string{"--atollconfig", cfg}, args...)...)
		return out + errOut, err
	}
}

var acceptedRE = regexp.MustCompile(`change [0-9a-f]{64} accepted by (s\d\d)`)

// TestCLI runs the client commands through the binary against three sites, with a
// context file that points at site 1's HTTP server: apply, get in every form, delete,
// and the removal seen at every site.
func TestCLI(t *testing.T) {
	f := start(t, Options{Sites: 3, HTTP: true})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := writeContexts(t, f, 1)
	atoll := func(args ...string) (string, string, error) {
		return cliRun(ctx, append([]string{"--atollconfig", cfg}, args...)...)
	}
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(manifest, []byte(cliYAML), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := atoll("apply", "-f", manifest)
	if err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
	if m := acceptedRE.FindStringSubmatch(out); m == nil || m[1] != f.Names[1] ||
		!strings.Contains(out, "workload shop/web configured") || !strings.Contains(out, "workload shop/configmap.settings configured") {
		t.Fatalf("apply output %q: want both workloads and the change accepted by %s", out, f.Names[1])
	}

	out, errOut, err = atoll("get", "workloads", "-o", "json")
	var ws []site.WorkloadView
	if err == nil {
		err = json.Unmarshal([]byte(out), &ws)
	}
	if err != nil {
		t.Fatalf("get workloads -o json: %v\n%s%s", err, out, errOut)
	}
	kinds := map[string]string{}
	for _, w := range ws {
		kinds[w.Namespace+"/"+w.Name] = w.Kind
	}
	if len(ws) != 2 || kinds["shop/web"] != "Deployment" || kinds["shop/configmap.settings"] != "ConfigMap" {
		t.Fatalf("get workloads -o json: %v", kinds)
	}

	out, errOut, err = atoll("get", "workloads", "-o", "yaml")
	ws = nil
	if err == nil {
		err = yaml.Unmarshal([]byte(out), &ws)
	}
	if err != nil || len(ws) != 2 {
		t.Fatalf("get workloads -o yaml: %v, %d workloads\n%s%s", err, len(ws), out, errOut)
	}

	out, errOut, err = atoll("get", "sites")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(out, "JURISDICTION") {
		t.Fatalf("get sites: %v; want a header and 3 rows:\n%s%s", err, out, errOut)
	}
	t.Logf("get sites:\n%s", out)
	out, errOut, err = atoll("get", "wl", "shop/web", "-o", "wide")
	if err != nil || !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "Deployment") || strings.Contains(out, "ConfigMap") {
		t.Fatalf("get wl shop/web -o wide: %v\n%s%s", err, out, errOut)
	}
	t.Logf("get workloads -o wide:\n%s", out)
	if out, errOut, err = atoll("config", "get-contexts"); err != nil || !strings.Contains(out, "*") {
		t.Fatalf("config get-contexts: %v\n%s%s", err, out, errOut)
	}

	// Nothing there: an error naming it, and nothing sent.
	_, errOut, err = atoll("delete", "workload", "shop/nope")
	if err == nil || !strings.Contains(errOut, "shop/nope not found") {
		t.Fatalf("delete of a missing workload: %v, %q", err, errOut)
	}
	// Through site 0's local API (another context), with the dry run first.
	out, errOut, err = atoll("delete", "workload", "shop/web", "--context", "local-0", "--dry-run")
	if err != nil || !strings.Contains(out, "would be deleted") {
		t.Fatalf("delete --dry-run: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err = atoll("delete", "workload", "shop/web", "--context", "local-0")
	if m := acceptedRE.FindStringSubmatch(out); err != nil || m == nil || m[1] != f.Names[0] {
		t.Fatalf("delete: %v\n%s%s", err, out, errOut)
	}
	for i := range f.Names {
		if err := poll(ctx, func() bool {
			out, _, err := atoll("get", "workloads", "-o", "json", "--context", f.Names[i])
			var ws []site.WorkloadView
			if err != nil || json.Unmarshal([]byte(out), &ws) != nil {
				return false
			}
			return len(ws) == 1 && ws[0].Name == "configmap.settings"
		}); err != nil {
			t.Fatalf("%s: shop/web still there after delete", f.Names[i])
		}
	}
	out, errOut, err = atoll("delete", "-f", manifest)
	if err == nil || !strings.Contains(errOut, "shop/web not found") {
		t.Fatalf("delete -f with one workload gone: %v; want an error naming it\n%s%s", err, out, errOut)
	}
	out, errOut, err = atoll("delete", "workload", "shop/configmap.settings", "--wait", "--timeout", "30s")
	if err != nil || !strings.Contains(out, "gone from every site") {
		t.Fatalf("delete --wait: %v\n%s%s", err, out, errOut)
	}
}

// TestCLIWait: apply --wait returns once the Deployment is ready in a real cluster, a
// workload bounded where no cluster is never ready and --wait times out naming it, and
// delete --wait returns once the cluster is pruned.
func TestCLIWait(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	env, err := testenv.Start(t.Context(), testenv.Options{Dir: shortTempDir(t), Clusters: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	f := start(t, Options{Sites: 2, HTTP: true, Tune: func(_ int, c *site.Config) {
		c.Observe, c.Resync = site.Duration(500*time.Millisecond), site.Duration(time.Second)
	}})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := writeContexts(t, f, 0)
	atoll := func(args ...string) (string, string, error) {
		return cliRun(ctx, append([]string{"--atollconfig", cfg}, args...)...)
	}
	kc := env.Clusters()[0].AtollKubeconfig
	if out, errOut, err := atoll("cluster", "join", "c0", "--kubeconfig", kc, "--context", "local-0"); err != nil {
		t.Fatalf("cluster join: %v\n%s%s", err, out, errOut)
	}
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(web, []byte(strings.SplitN(cliYAML, "---", 2)[0]+cliPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := atoll("apply", "-f", web, "--wait", "--timeout", "2m")
	if err != nil || !strings.Contains(out, "1 workload ready") || !strings.Contains(out, f.Names[0]+"/c0 1/1") {
		t.Fatalf("apply --wait: %v\n%s%s", err, out, errOut)
	}
	t.Logf("apply --wait:\n%s", out)
	d, err := clientset(t, kc).AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.Status.ReadyReplicas != 1 {
		t.Fatalf("after apply --wait: %v, %+v", err, d.Status)
	}

	// Bounded to US (site 1, which has no cluster): applied there, it is never ready.
	ledger := strings.Replace(strings.SplitN(cliYAML, "---", 2)[0], "metadata: {name: web, namespace: shop}",
		"metadata: {name: ledger, namespace: shop, annotations: {atoll.io/bound: US}}", 1)
	bounded := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(bounded, []byte(ledger+cliPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = atoll("apply", "-f", bounded, "--wait", "--timeout", "3s", "--context", f.Names[1])
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errOut, "timed out after 3s") || !strings.Contains(errOut, "shop/ledger:") {
		t.Fatalf("apply --wait of a workload that cannot be ready: %v; want exit 1 naming it\n%s%s", err, out, errOut)
	}
	t.Logf("apply --wait --timeout 3s: %s", errOut)
	// Applied through a site outside the bound: refused before anything is sent.
	_, errOut, err = atoll("apply", "-f", bounded)
	if err == nil || !strings.Contains(errOut, "nothing was sent") {
		t.Fatalf("apply of a US-bound workload through an EU site: %v, %q", err, errOut)
	}

	out, errOut, err = atoll("delete", "workload", "shop/web", "--wait", "--timeout", "1m")
	if err != nil || !strings.Contains(out, "gone from every site") {
		t.Fatalf("delete --wait: %v\n%s%s", err, out, errOut)
	}
	if _, err := clientset(t, kc).AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete --wait, the Deployment is still in the cluster: %v", err)
	}
}
