package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/deploy/testenv"
	"atoll/site"
)

// gitopsRevision is one commit of the repository Flux deploys: a Deployment, and, in the
// first, a ConfigMap, with the PropagationPolicy that places them.
func gitopsRevision(cluster string, replicas int, withConfig bool) map[string]string {
	files := map[string]string{
		"deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1}]
`, replicas),
		"policy.yaml": `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  - {apiVersion: v1, kind: ConfigMap, name: web-config}
  placement:
    clusterAffinity: {clusterNames: [` + cluster + `]}
`,
	}
	if withConfig {
		files["configmap.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: shop}\ndata: {mode: fast}\n"
	}
	return files
}

// TestGitOps: Flux's kustomize-controller, a real GitOps controller built from the
// module proxy (make flux), deploys a repository to a site's Kubernetes API as Karmada
// users deploy to Karmada's: it runs in the region's own cluster and applies to the site
// through the site's HTTP server (/k8s) with a kubeconfig of a charter operator granted
// the namespace shop. Its health checks pass on the status the site writes back, the
// Deployment runs in the member cluster, and the next revision, without the ConfigMap,
// scales the Deployment and prunes the ConfigMap from the federation.
//
// The source is served by the test in source-controller's place: the artifact
// (a tar.gz and its digest) that a GitRepository's status points at, which is all
// kustomize-controller reads of a source.
func TestGitOps(t *testing.T) {
	fluxDir := fluxBuild(t)
	env := startClusters(t, testenv.Options{Clusters: 1})
	bin, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	writeServingCert(t, certDir)
	f := start(t, Options{Sites: 1, HTTP: true,
		Operators: []OperatorSpec{{Name: "gitops", Namespaces: []string{"shop"}}},
		Tune: func(i int, c *site.Config) {
			c.KubeAPI = &site.KubeAPIConfig{OperatorKey: "operator.key"}
			c.HTTPCert, c.HTTPKey = filepath.Join(certDir, "http.crt"), filepath.Join(certDir, "http.key")
		}})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	home := env.Clusters()[0].Kubeconfig // Flux's own cluster: the region's, a member too
	kubectl := func(kubeconfig, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(out string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	// The platform team makes the namespace in the site's API; the site's HTTP server
	// gives the GitOps operator's kubeconfig.
	admin := filepath.Join(f.opts.Dir, "data", f.Names[0], "kubeapi", "fedapi", "admin.kubeconfig")
	if err := f.waitFor(ctx, "the Kubernetes API of "+f.Names[0], func(map[int]site.State) bool {
		_, err := kubectl(admin, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", "apply", "-f", "-")
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	siteKC, errOut, err := cliRun(ctx, "kubeconfig", "--server", strings.Replace(f.URL(0), "http://", "https://", 1),
		"--ca", filepath.Join(certDir, "http.crt"), "--key", filepath.Join(f.opts.Dir, "gitops.key"))
	if err != nil {
		t.Fatalf("atoll kubeconfig: %v\n%s", err, errOut)
	}

	// Flux in the region's cluster: its CRDs, the site's kubeconfig as a Secret, the
	// source, the Kustomization, and the controller.
	for _, crd := range []string{"kustomize.toolkit.fluxcd.io_kustomizations", "source.toolkit.fluxcd.io_gitrepositories",
		"source.toolkit.fluxcd.io_ocirepositories", "source.toolkit.fluxcd.io_buckets"} {
		must(kubectl(home, "", "apply", "--server-side", "-f", filepath.Join(fluxDir, "crds", crd+".yaml")))
	}
	must(kubectl(home, "", "wait", "--for=condition=Established", "crd", "--all", "--timeout=1m"))
	must(kubectl(home, "", "create", "namespace", "flux-system"))
	must(kubectl(home, "", "create", "secret", "generic", "atoll-site", "-n", "flux-system", "--from-literal=value="+siteKC))
	artifacts := newArtifactServer(t)
	must(kubectl(home, `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: shop, namespace: flux-system}
spec: {url: "https://git.invalid/shop.git", interval: 10m, ref: {branch: main}}
`, "apply", "-f", "-"))
	must(kubectl(home, `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: flux-system}
spec:
  interval: 10m
  retryInterval: 5s
  sourceRef: {kind: GitRepository, name: shop}
  path: ./
  prune: true
  wait: true
  timeout: 2m
  kubeConfig: {secretRef: {name: atoll-site, key: value}}
`, "apply", "-f", "-"))
	startKustomizeController(t, fluxDir, home)

	cluster := f.Names[0] + "/c0"
	member := clientset(t, env.Clusters()[0].Kubeconfig)
	replicas := func() int {
		d, err := member.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return -1
		}
		return int(*d.Spec.Replicas)
	}
	hasConfig := func() bool {
		_, err := member.CoreV1().ConfigMaps("shop").Get(ctx, "web-config", metav1.GetOptions{})
		return err == nil
	}
	// applied waits until the Kustomization is Ready at revision, its health checks
	// passed, and cond holds.
	applied := func(revision, what string, cond func() bool) {
		t.Helper()
		var last string
		if err := f.waitFor(ctx, what, func(map[int]site.State) bool {
			out, _ := kubectl(home, "", "get", "kustomization", "shop", "-n", "flux-system", "-o",
				`jsonpath={.status.lastAppliedRevision} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}`)
			last = out
			return strings.HasPrefix(out, revision+" True") && cond()
		}); err != nil {
			ks, _ := kubectl(home, "", "get", "kustomization", "shop", "-n", "flux-system", "-o", "jsonpath={.status}")
			d, _ := kubectl(admin, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.metadata.generation} {.status}")
			t.Fatalf("%v; the Kustomization: %s\nits status: %s\nthe Deployment in the site's API: %s", err, last, ks, d)
		}
	}

	begin := time.Now()
	rev1 := artifacts.publish(t, kubectl, home, "rev1", gitopsRevision(cluster, 2, true))
	applied(rev1, "revision 1 applied, healthy, and running in c0", func() bool { return replicas() == 2 && hasConfig() })
	t.Logf("revision 1: published to Ready (applied, health checks passed) in %v", time.Since(begin).Round(time.Millisecond))
	out, err := kubectl(admin, "", "get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.metadata.managedFields[*].manager}")
	if err != nil || !strings.Contains(out, "kustomize-controller") {
		t.Fatalf("the Deployment in the site's API, managed by %q (%v): want kustomize-controller", out, err)
	}

	begin = time.Now()
	rev2 := artifacts.publish(t, kubectl, home, "rev2", gitopsRevision(cluster, 3, false))
	applied(rev2, "revision 2 applied: scaled to 3, the ConfigMap pruned", func() bool { return replicas() == 3 && !hasConfig() })
	t.Logf("revision 2: published to Ready in %v", time.Since(begin).Round(time.Millisecond))
	if v, err := f.Client(0).Object(ctx, "workload", "shop/configmap.web-config"); err != nil || v != nil {
		t.Fatalf("the pruned ConfigMap still in the federation's state: %v, %v", v, err)
	}
}

// fluxBuild returns the directory hack/flux/build.sh fills (bin/kustomize-controller,
// crds/). make test builds it first, so its absence is a failure.
func fluxBuild(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", "../hack/flux/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("hack/flux/build.sh --print-dir: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("no kustomize-controller in %s: run `make flux` (make test builds it first)", dir)
	}
	return dir
}

// startKustomizeController runs the controller against its home cluster until the test
// ends, its log in the test's temporary directory (printed if the test fails).
func startKustomizeController(t *testing.T, fluxDir, kubeconfig string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "kustomize-controller.log")
	lf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(fluxDir, "bin", "kustomize-controller"),
		"--enable-leader-election=false", "--watch-all-namespaces=true",
		"--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--log-level=debug")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "RUNTIME_NAMESPACE=flux-system")
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- kustomize-controller (tail)\n%s", b)
		}
	})
}

// artifactServer serves tar.gz artifacts as source-controller does, at /<name>.tar.gz.
type artifactServer struct {
	url   string
	mu    sync.Mutex
	files map[string][]byte
}

func newArtifactServer(t *testing.T) *artifactServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &artifactServer{url: "http://" + ln.Addr().String(), files: map[string][]byte{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		b, ok := a.files[strings.TrimPrefix(r.URL.Path, "/")]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

// publish serves files as the artifact name and points the GitRepository's status at
// it, as source-controller does after fetching a commit; it returns the revision.
func (a *artifactServer) publish(t *testing.T, kubectl func(string, string, ...string) (string, error), kubeconfig, name string, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for path, text := range files {
		if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(text)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	digest := hex.EncodeToString(sum[:])
	a.mu.Lock()
	a.files[name+".tar.gz"] = buf.Bytes()
	a.mu.Unlock()
	commit := sha256.Sum256([]byte(name))
	revision := "main@sha1:" + hex.EncodeToString(commit[:20])
	now := time.Now().UTC().Format(time.RFC3339)
	status := map[string]any{"status": map[string]any{
		"observedGeneration": 1,
		"artifact": map[string]any{
			"path": "gitrepository/flux-system/shop/" + name + ".tar.gz", "url": a.url + "/" + name + ".tar.gz",
			"revision": revision, "digest": "sha256:" + digest, "lastUpdateTime": now, "size": buf.Len(),
		},
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded",
			"message": "stored artifact for revision '" + revision + "'", "lastTransitionTime": now, "observedGeneration": 1}},
	}}
	patch, err := json.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(kubeconfig, "", "patch", "gitrepository", "shop", "-n", "flux-system", "--subresource=status",
		"--type=merge", "-p", string(patch)); err != nil {
		t.Fatalf("publishing %s: %v\n%s", name, err, out)
	}
	return revision
}
