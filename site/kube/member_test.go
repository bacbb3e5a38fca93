package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/crdt"
)

func node(name string, ready bool, cpu, mem string) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
		},
	}
}

func pod(nodeName string, phase corev1.PodPhase, cpu, mem string, init ...string) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}},
	}}}, Status: corev1.PodStatus{Phase: phase}}
	for _, c := range init {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(c)}}})
	}
	return p
}

func TestCapacity(t *testing.T) {
	nodes := []*corev1.Node{node("b", true, "4", "8Gi"), node("a", true, "2", "4Gi"), node("down", false, "8", "8Gi")}
	pods := []*corev1.Pod{
		pod("b", corev1.PodRunning, "500m", "1Gi"),
		pod("b", corev1.PodPending, "1", "1Gi", "3"), // an init container asks more than the rest
		pod("b", corev1.PodSucceeded, "3", "3Gi"),    // ended: frees its requests
		pod("a", corev1.PodRunning, "3", "1Gi"),      // over-committed: free is 0, not negative
		pod("", corev1.PodPending, "1", "1Gi"),       // unscheduled
	}
	cc := Capacity(nodes, pods)
	got := cc.Nodes
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("capacity of %v; want the ready nodes a, b", got)
	}
	want := map[string]string{"a": "cpu=0,memory=3Gi,pods=109", "b": "cpu=500m,memory=6Gi,pods=108"}
	for _, n := range got {
		if s := FormatResources(n.Free); s != want[n.Name] {
			t.Errorf("node %s free %s, want %s", n.Name, s, want[n.Name])
		}
	}
	f := Snapshot{Healthy: true, Version: "v1.37.2", Nodes: 3, ReadyNodes: 2, Capacity: cc, Labels: map[string]string{"tier": "prod"}}.Fields()
	for k, v := range map[string]string{
		"health": "healthy", "readyNodes": "2", "nodes": "3", "k8sVersion": "v1.37.2", "labels/tier": "prod",
		"allocatable/cpu": "6", "available/cpu": "500m", "available/memory": "9Gi", "available/node/b": "cpu=500m,memory=6Gi,pods=108",
	} {
		if f[k] != v {
			t.Errorf("field %s = %q, want %q", k, f[k], v)
		}
	}
}

func TestOps(t *testing.T) {
	prev := map[string]string{"health": "healthy", "available/cpu": "2", "labels/old": "x", "observed": "t0"}
	cur := map[string]string{"health": "healthy", "available/cpu": "1", "labels/new": "y"}
	names := func(ops []crdt.Op) string {
		var s []string
		for _, op := range ops {
			s = append(s, op.Type.String()+" "+op.Field)
		}
		return strings.Join(s, "; ")
	}
	// A label changed: everything that changed goes, capacity included.
	if got := names(Ops("s/c", prev, cur, false)); got != "set available/cpu; set labels/new; delete labels/old" {
		t.Errorf("ops = %s", got)
	}
	// Only capacity changed: held back until its interval is due.
	cur2 := map[string]string{"health": "healthy", "available/cpu": "1", "labels/old": "x"}
	if got := Ops("s/c", prev, cur2, false); len(got) != 0 {
		t.Errorf("capacity-only change published early: %s", names(got))
	}
	if got := names(Ops("s/c", prev, cur2, true)); got != "set available/cpu" {
		t.Errorf("ops = %s", got)
	}
	// Every op is valid for the crdt schema.
	for _, op := range Ops("site-a/c1", nil, Snapshot{Healthy: false, Reason: "readyz: connection refused", Labels: map[string]string{"a": "b"}}.Fields(), true) {
		if op.Kind != crdt.KindCluster || op.Key != "site-a/c1" {
			t.Errorf("op %+v", op)
		}
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	r := NewRegistry(dir, testKey)
	if err := r.Join(Entry{Name: "Bad_Name"}, []byte(kubeconfig)); err == nil {
		t.Error("joined a cluster with an invalid name")
	}
	if err := r.Join(Entry{Name: "c1"}, []byte("not: [a kubeconfig")); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("bad kubeconfig: %v", err)
	}
	if err := r.Join(Entry{Name: "c1", Labels: map[string]string{"tier": "prod"}, Taints: []string{"gpu=yes:NoSchedule"}}, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "clusters", "c1", "kubeconfig"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig stored with %v (%v), want 0600", info.Mode(), err)
	}
	assertSealed(t, filepath.Join(dir, "clusters", "c1", "kubeconfig"))
	if !r.Holds(Entry{Name: "c1", Labels: map[string]string{"tier": "prod"}, Taints: []string{"gpu=yes:NoSchedule"}}, []byte(kubeconfig)) {
		t.Error("Holds: false for the cluster just joined")
	}
	list, err := r.List()
	if err != nil || len(list) != 1 || list[0].Labels["tier"] != "prod" {
		t.Fatalf("list %+v, %v", list, err)
	}
	cfg, err := r.Config("c1")
	if err != nil || cfg.Host != "https://127.0.0.1:6443" || cfg.BearerToken != "secret" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if err := r.Unjoin("c1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Unjoin("c1"); err == nil {
		t.Error("unjoined a cluster twice")
	}
	if list, _ := r.List(); len(list) != 0 {
		t.Errorf("after unjoin: %v", list)
	}
}

func TestTaints(t *testing.T) {
	f := Snapshot{Healthy: true, Taints: []string{"gpu=yes:NoSchedule", "spot:NoExecute"}}.Fields()
	if f["taints/gpu"] != "yes:NoSchedule" || f["taints/spot"] != ":NoExecute" {
		t.Errorf("taint fields %v", f)
	}
	for _, bad := range []string{"gpu=yes", "gpu=yes:Sometimes", ":NoSchedule", "a b:NoSchedule"} {
		if _, _, _, err := ParseTaint(bad); err == nil {
			t.Errorf("ParseTaint(%q): no error", bad)
		}
	}
}
