package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/deploy/testenv"
	"atoll/site"
)

// webTolerating is a Deployment divided between the two sites' clusters whose policy
// tolerates the taint maint for 15 s.
const webTolerating = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: registry.invalid/web:1}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    clusterTolerations:
    - {key: maint, operator: Exists, effect: NoExecute, tolerationSeconds: 15}
    replicaScheduling: {replicaSchedulingType: Divided}
`

// apiFailover is a Deployment divided between the clusters, moved off one where it has
// been unhealthy for 10 s.
const apiFailover = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: pay}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers: [{name: api, image: registry.invalid/api:1}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: api, namespace: pay}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: api}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    replicaScheduling: {replicaSchedulingType: Divided}
  failover:
    application:
      decisionConditions: {tolerationSeconds: 10}
      purgeMode: Gracefully
      gracePeriodSeconds: 600
`

// TestFailoverControls, on real clusters (two sites, a cluster each with 3 kwok Nodes):
//
//   - A NoSchedule taint is a cordon: c0 keeps its 2 pods (the same uids) while a scale
//     from 4 to 6 goes to c1 alone.
//   - A NoExecute taint the policy tolerates for 15 s: c0 keeps its replicas until 15 s
//     after the taint began (taintedAt, stamped by c0's site), then they move to c1,
//     make-before-break: when c0's Deployment goes, c1 has all 6 ready.
//   - Application failover: with c1's Nodes cordoned in Kubernetes, api's pod there never
//     runs; 10 s after c1's site saw it unhealthy, that site evicts it, both replicas run in
//     c0 before c1's go, and once c1's Nodes take pods again it still does not come back
//     while the eviction is in force (600 s), pass after pass.
func TestFailoverControls(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2, NodesPerCluster: 3})
	f := start(t, Options{Sites: 2, HTTP: true})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	cs := []*kubernetes.Clientset{clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)}
	sites := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1])
	web := func(replicas int) string {
		return sites.Replace(strings.Replace(webTolerating, "REPLICAS", fmt.Sprint(replicas), 1))
	}
	// taint runs atoll cluster taint c0 with args at site 0; taints is what c0 then has.
	taint := func(taints []string, args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, binary, append([]string{"cluster", "taint", "c0", "--site", f.Config(0)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("atoll cluster taint c0 %v: %v\n%s", args, err, out)
		}
		// Wait until the other site schedules with the taints, each stamped.
		var last string
		if err := f.waitFor(ctx, fmt.Sprintf("site 1 to see c0 tainted %v", taints), func(map[int]site.State) bool {
			v, err := f.Client(1).View(ctx)
			if err != nil {
				return false
			}
			for _, c := range v.Clusters {
				if c.Name == "c0" {
					last = fmt.Sprint(c.Taints, c.TaintedAt)
					want := slices.Clone(taints)
					slices.Sort(want)
					return slices.Equal(c.Taints, want) && len(c.TaintedAt) == len(taints)
				}
			}
			return false
		}); err != nil {
			t.Fatalf("%v; last %s", err, last)
		}
	}
	deploy := func(i int, ns, name string) (spec, ready int, ok bool) {
		d, err := cs[i].AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err != nil {
			return 0, 0, false
		}
		return int(*d.Spec.Replicas), int(d.Status.ReadyReplicas), true
	}
	podUIDs := func(i int, ns, app string) []string {
		pods, err := cs[i].CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out = append(out, string(p.UID))
			}
		}
		slices.Sort(out)
		return out
	}
	waitDeploys := func(what string, want string, ns, name string) {
		t.Helper()
		var last string
		if err := poll(ctx, func() bool {
			s0, r0, _ := deploy(0, ns, name)
			s1, r1, _ := deploy(1, ns, name)
			last = fmt.Sprintf("c0 %d/%d c1 %d/%d", r0, s0, r1, s1)
			return last == want
		}); err != nil {
			t.Fatalf("%s: %v; last %s, want %s", what, err, last, want)
		}
	}

	// A cordon keeps what runs; a scale-up goes elsewhere.
	applyText(ctx, t, f, 0, web(4))
	waitDeploys("web divided 2:2", "c0 2/2 c1 2/2", "shop", "web")
	before := podUIDs(0, "shop", "web")
	taint([]string{"drain=yes:NoSchedule"}, "drain=yes:NoSchedule")
	applyText(ctx, t, f, 0, web(6))
	waitDeploys("the scale-up to 6 to go to c1 alone", "c0 2/2 c1 4/4", "shop", "web")
	if after := podUIDs(0, "shop", "web"); !slices.Equal(before, after) {
		t.Fatalf("c0's pods under the cordon: %v, want the same %v", after, before)
	}

	// A NoExecute taint tolerated for 15 s: the replicas stay until then, then move
	// make-before-break.
	taint([]string{"drain=yes:NoSchedule", "maint=now:NoExecute"}, "maint=now:NoExecute")
	v, err := f.Client(1).View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var began time.Time
	for _, c := range v.Clusters {
		if c.Name == "c0" {
			began, _ = time.Parse(time.RFC3339, c.TaintedAt["maint"])
		}
	}
	if began.IsZero() {
		t.Fatalf("c0's maint taint has no taintedAt in %+v", v.Clusters)
	}
	var moved time.Time
	var last string
	if err := poll(ctx, func() bool {
		s0, _, ok0 := deploy(0, "shop", "web")
		if ok0 && s0 == 2 {
			return false
		}
		moved = time.Now()
		_, r1, _ := deploy(1, "shop", "web")
		last = fmt.Sprintf("c0 at %d (present %v), c1 ready %d", s0, ok0, r1)
		if r1 != 6 {
			t.Fatalf("c0 gave up its replicas before c1 had all 6 ready: %s", last)
		}
		return true
	}); err != nil {
		t.Fatalf("the tolerated NoExecute taint to move web: %v", err)
	}
	if held := moved.Sub(began); held < 15*time.Second {
		t.Fatalf("c0 kept web %v after the taint began, want at least its tolerationSeconds, 15 s", held)
	}
	waitDeploys("web in c1 alone", "c0 0/0 c1 6/6", "shop", "web")
	t.Logf("NoExecute tolerated 15 s: the replicas moved %v after the taint began (%s)", moved.Sub(began).Round(time.Second), last)
	taint(nil, "drain-", "maint-")

	// Application failover: c1's Nodes take no pods, so api never runs there.
	nodes, err := cs[1].CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setUnschedulable := func(on bool) {
		for _, n := range nodes.Items {
			cur, err := cs[1].CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cur.Spec.Unschedulable = on
			if _, err := cs[1].CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setUnschedulable(true)
	applyText(ctx, t, f, 0, sites.Replace(apiFailover))
	var created time.Time
	if err := poll(ctx, func() bool {
		d, err := cs[1].AppsV1().Deployments("pay").Get(ctx, "api", metav1.GetOptions{})
		if err == nil {
			created = d.CreationTimestamp.Time
		}
		return err == nil
	}); err != nil {
		t.Fatalf("api in c1: %v", err)
	}
	if err := poll(ctx, func() bool {
		s0, r0, _ := deploy(0, "pay", "api")
		_, _, ok1 := deploy(1, "pay", "api")
		last = fmt.Sprintf("c0 %d/%d, c1 present %v", r0, s0, ok1)
		if !ok1 && r0 != 2 {
			t.Fatalf("c1's api went before c0 had both replicas ready: %s", last)
		}
		return !ok1
	}); err != nil {
		t.Fatalf("api to leave c1: %v; last %s", err, last)
	}
	waitDeploys("api in c0 alone", "c0 2/2 c1 0/0", "pay", "api")
	for i := range 2 {
		p, err := f.Client(i).Placement(ctx, "pay", "api")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Evictions) != 1 || p.Evictions[0].Cluster != f.Names[1]+"/c1" {
			t.Fatalf("site %d: evictions %+v, want c1's", i, p.Evictions)
		}
		if e := p.Evictions[0]; e.At.Sub(created.Truncate(time.Second)) < 10*time.Second || e.Until.Sub(e.At) != 600*time.Second {
			t.Fatalf("site %d: eviction %+v of a Deployment created %v: want it at least tolerationSeconds (10 s) after, for 600 s", i, e, created)
		}
	}
	// c1 takes pods again: api does not come back while the eviction is in force.
	setUnschedulable(false)
	passes := func(i int) float64 { return metricValue(ctx, t, f, i, "atoll_reconcile_duration_seconds") }
	from := []float64{passes(0), passes(1)}
	if err := poll(ctx, func() bool { return passes(0) >= from[0]+3 && passes(1) >= from[1]+3 }); err != nil {
		t.Fatalf("three more reconcile passes at each site: %v", err)
	}
	waitDeploys("api still in c0 alone", "c0 2/2 c1 0/0", "pay", "api")
	ns, err := cs[1].CoreV1().Pods("pay").List(ctx, metav1.ListOptions{})
	if err != nil || len(ns.Items) != 0 {
		t.Fatalf("pods of pay in c1: %v %v, want none", err, podNames(ns))
	}
}

func podNames(l *corev1.PodList) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, p := range l.Items {
		out = append(out, p.Name)
	}
	return out
}
