package e2e

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

const webTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`

func clientset(t *testing.T, kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Tests poll several objects every 100 ms: client-go's default of 5 requests a second
	// would queue them further and further behind, until each call outlasts the test.
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestWorkloads runs a workload through two sites with one real cluster each: each site
// applies its share as a Deployment that kwok makes ready, an override changes the image
// in one cluster, status flows back into the state, an object Atoll did not create is
// left alone, and removing the workload prunes what Atoll created.
func TestWorkloads(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	f := start(t, Options{Sites: 2, Tune: func(_ int, c *site.Config) {
		c.Observe, c.Resync = site.Duration(500*time.Millisecond), site.Duration(time.Second)
	}})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	var cs []*kubernetes.Clientset
	for _, c := range env.Clusters() {
		cs = append(cs, clientset(t, c.Kubeconfig))
	}
	// Someone else's Deployment in the same namespace: Atoll must never touch it.
	if _, err := cs[0].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign := &appsv1.Deployment{}
	foreign.Name, foreign.Namespace = "theirs", "shop"
	foreign.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "theirs"}}
	foreign.Spec.Template.Labels = map[string]string{"app": "theirs"}
	foreign.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "registry.invalid/theirs:1"}}
	if _, err := cs[0].AppsV1().Deployments("shop").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	key := "shop/web"
	set := func(field, value string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: field, Value: []byte(value)}
	}
	if err := op.write(ctx, 0, set("apiVersion", "apps/v1"), set("kind", "Deployment"), set("replicas", "5"),
		set("template", webTemplate), set("overrides", `[{"targetCluster":{"clusterNames":["`+f.Names[1]+`/c1"]},"overriders":{"imageOverrider":[{"component":"Tag","operator":"replace","value":"2"}]}}]`)); err != nil {
		t.Fatal(err)
	}

	// A kind without replicas goes whole to every cluster, through the dynamic client.
	cmKey := "shop/settings"
	if err := op.write(ctx, 0, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: cmKey, Field: "template",
		Value: []byte("apiVersion: v1\nkind: ConfigMap\ndata: {mode: fast}\n")}); err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		for {
			cm, err := cs[i].CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
			if err == nil && cm.Data["mode"] == "fast" {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("cluster %d: ConfigMap: %v", i, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	// 5 replicas over 2 sites: 3 at s00 (its cluster c0), 2 at s01 (c1), with the override there.
	want := []struct {
		replicas int32
		image    string
	}{{3, "registry.invalid/web:1"}, {2, "registry.invalid/web:2"}}
	waitDeploy := func(i int, ok func(*appsv1.Deployment, error) bool) {
		t.Helper()
		for {
			d, err := cs[i].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if ok(d, err) {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("cluster %d: %v; last %v %+v", i, ctx.Err(), err, d.Status)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	for i, w := range want {
		waitDeploy(i, func(d *appsv1.Deployment, err error) bool {
			return err == nil && *d.Spec.Replicas == w.replicas && d.Status.ReadyReplicas == w.replicas &&
				d.Spec.Template.Spec.Containers[0].Image == w.image && d.Labels["atoll.io/managed-by"] == "atoll"
		})
	}
	// Status flows back: the other site sees each site's ready replicas.
	for i, w := range want {
		skey := crdt.StatusKey("shop", "web", f.Names[i], "c"+Seq(i))
		if err := f.waitFor(ctx, "status "+skey, func(map[int]site.State) bool {
			obj, err := f.Client(1-i).Object(ctx, "status", skey)
			return err == nil && obj["ready"].Value == Seq(int(w.replicas)) && obj["desired"].Value == Seq(int(w.replicas)) &&
				strings.Contains(obj["conditions"].Value, "Available=True")
		}); err != nil {
			t.Fatal(err)
		}
	}
	// An edit by hand in the cluster is undone: it wakes a pass (drift), which applies
	// the Deployment again.
	d, err := cs[0].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "registry.invalid/hand-edited:9"
	if _, err := cs[0].AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploy(0, func(d *appsv1.Deployment, err error) bool {
		return err == nil && d.Spec.Template.Spec.Containers[0].Image == want[0].image
	})

	// Unjoining a cluster deletes what Atoll created there, at once.
	if warning, err := f.Client(1).UnjoinCluster(ctx, "c1"); err != nil || warning != "" {
		t.Fatal(warning, err)
	}
	if _, err := cs[1].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after unjoin, Atoll's Deployment is still in the cluster: %v", err)
	}
	// Removing the workload prunes Atoll's Deployments, and only them.
	if err := op.write(ctx, 1, crdt.Op{Type: crdt.OpRemove, Kind: crdt.KindWorkload, Key: key}); err != nil {
		t.Fatal(err)
	}
	waitDeploy(0, func(_ *appsv1.Deployment, err error) bool { return apierrors.IsNotFound(err) })
	if _, err := cs[0].AppsV1().Deployments("shop").Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
		t.Fatalf("a Deployment Atoll did not create was touched: %v", err)
	}
	if _, err := cs[0].CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Fatalf("pruning web removed the settings workload's ConfigMap: %v", err)
	}
	if err := f.waitFor(ctx, "status removed", func(map[int]site.State) bool {
		obj, err := f.Client(1).Object(ctx, "status", crdt.StatusKey("shop", "web", f.Names[0], "c0"))
		return err == nil && obj == nil
	}); err != nil {
		t.Fatal(err)
	}
}
