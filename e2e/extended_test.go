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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/deploy/testenv"
	"atoll/site"
)

// gpuYAML is a training Deployment asking for a GPU per replica through its limits (as
// pods ask for extended resources), a web Deployment asking for none, and one policy
// dividing both evenly between the two sites' clusters.
const gpuYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: train, namespace: ml}
spec:
  replicas: 3
  selector: {matchLabels: {app: train}}
  template:
    metadata: {labels: {app: train}}
    spec:
      containers:
      - name: train
        image: registry.invalid/train:1
        resources:
          requests: {cpu: 100m}
          limits: {nvidia.com/gpu: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1, resources: {requests: {cpu: 100m}}}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: even, namespace: ml}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [SITE0/c0, SITE1/c1]}, weight: 1}
`

// TestExtendedResources runs two sites with a real cluster each, kwok nodes with 4 GPUs
// each in site 1's cluster and none in site 0's: both sites publish and show the GPU
// capacity, a Deployment asking for a GPU per replica runs wholly in the GPU cluster
// although its policy divides evenly (a CPU-only one under the same policy is divided),
// kube-scheduler runs its pods there, and the free count drops by what they use, in the
// API and in `atoll get clusters -o wide`.
func TestExtendedResources(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2, NodeExtended: map[string]map[string]string{"member-1": {"nvidia.com/gpu": "4"}}})
	f := start(t, Options{Sites: 2, Tune: func(_ int, c *site.Config) { c.Observe = site.Duration(500 * time.Millisecond) }})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	atoll := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		return string(out), err
	}
	// cluster returns the view's cluster c<i> as site 0 sees it.
	var last site.View
	cluster := func(i int) (site.ClusterView, bool) {
		v, err := f.Client(0).View(ctx)
		if err != nil {
			return site.ClusterView{}, false
		}
		last = v
		j := slices.IndexFunc(v.Clusters, func(c site.ClusterView) bool { return c.Site == f.Names[i] && c.Name == "c"+Seq(i) })
		if j < 0 {
			return site.ClusterView{}, false
		}
		return v.Clusters[j], true
	}
	gpus := func(c site.ClusterView) string {
		return c.Available["nvidia.com/gpu"] + "/" + c.Allocatable["nvidia.com/gpu"]
	}
	// Published and read: 2 nodes of 4 GPUs in c1, none in c0, nothing left out.
	if err := poll(ctx, func() bool {
		c0, ok0 := cluster(0)
		c1, ok1 := cluster(1)
		return ok0 && ok1 && c0.Healthy && c1.Healthy && gpus(c1) == "8/8" && gpus(c0) == "/" && len(c0.Ignored)+len(c1.Ignored) == 0
	}); err != nil {
		t.Fatalf("site 0 never showed c1 with 8 of 8 GPUs free and c0 with none: %v; last clusters %+v", err, last.Clusters)
	}

	dir := t.TempDir()
	manifest := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1]).Replace(gpuYAML)
	if err := os.WriteFile(filepath.Join(dir, "ml.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := atoll("apply", "-f", dir, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0]); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	cs0, cs1 := clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)
	// web is divided 1:1, so site 0 has reconciled the policy; train runs 3 ready in c1.
	var why string
	if err := poll(ctx, func() bool {
		w0, err0 := cs0.AppsV1().Deployments("ml").Get(ctx, "web", metav1.GetOptions{})
		w1, err1 := cs1.AppsV1().Deployments("ml").Get(ctx, "web", metav1.GetOptions{})
		tr, err := cs1.AppsV1().Deployments("ml").Get(ctx, "train", metav1.GetOptions{})
		if err0 != nil || err1 != nil || err != nil {
			why = fmt.Sprint(err0, err1, err)
			return false
		}
		why = fmt.Sprintf("web %d+%d, train %d (%d ready) in c1", *w0.Spec.Replicas, *w1.Spec.Replicas, *tr.Spec.Replicas, tr.Status.ReadyReplicas)
		return *w0.Spec.Replicas == 1 && *w1.Spec.Replicas == 1 && *tr.Spec.Replicas == 3 && tr.Status.ReadyReplicas == 3
	}); err != nil {
		t.Fatalf("web never divided 1:1 with train's 3 replicas ready in the GPU cluster: %v; last: %s", err, why)
	}
	if _, err := cs0.AppsV1().Deployments("ml").Get(ctx, "train", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cluster without GPUs has a train Deployment (err %v); want none", err)
	}
	pods, err := cs1.CoreV1().Pods("ml").List(ctx, metav1.ListOptions{LabelSelector: "app=train"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if q := p.Spec.Containers[0].Resources.Requests["nvidia.com/gpu"]; q.Value() != 1 || p.Spec.NodeName == "" {
			t.Errorf("pod %s on node %q requests %s GPUs; want 1, on a node", p.Name, p.Spec.NodeName, q.String())
		}
	}
	pl, err := f.Client(1).Placement(ctx, "ml", "train")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range pl.Sites {
		if s.Name == f.Names[0] && s.Replicas > 0 {
			t.Errorf("site 1 places %d replicas of ml/train at site 0, whose cluster has no GPU: %+v", s.Replicas, pl)
		}
	}
	// The free count follows the pods (capacity alone is published at most every 30 s).
	if err := poll(ctx, func() bool { c1, ok := cluster(1); return ok && gpus(c1) == "5/8" }); err != nil {
		c1, _ := cluster(1)
		t.Fatalf("c1's GPUs never showed 5 of 8 free with 3 in use: %v; last %q", err, gpus(c1))
	}
	out, err := atoll("get", "clusters", "-o", "wide", "--site", f.configs[1])
	if err != nil {
		t.Fatalf("get clusters -o wide: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "EXTENDED") {
		t.Fatalf("get clusters -o wide:\n%s", out)
	}
	col := slices.Index(strings.Fields(lines[0]), "EXTENDED")
	for _, l := range lines[1:] {
		row := strings.Fields(l)
		want := "-"
		if row[1] == "c1" {
			want = "nvidia.com/gpu=5/8"
		}
		if len(row) <= col || row[col] != want {
			t.Errorf("get clusters -o wide: row %q, want EXTENDED %s\n%s", l, want, out)
		}
	}
	t.Logf("get clusters -o wide:\n%s", out)
}
