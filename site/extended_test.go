package site

import (
	"fmt"
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/kube"
)

// TestInspectRequests: one replica's requests as the Kubernetes scheduler counts them:
// limits stand for missing requests (GPUs are asked for so), bare YAML numbers are
// quantities, an init container counts when it asks more, and a GPU asked for in a
// fraction fits nowhere.
func TestInspectRequests(t *testing.T) {
	deploy := func(spec string) []byte {
		return []byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n" + spec)
	}
	for _, tc := range []struct {
		name string
		spec string
		want scheduler.Resources
	}{
		{"GPUs through limits, as a bare number", `
      containers:
      - {name: a, resources: {limits: {nvidia.com/gpu: 1, cpu: 2}, requests: {cpu: 500m}}}
      - {name: b, resources: {limits: {nvidia.com/gpu: "2"}}}
`, scheduler.Resources{"nvidia.com/gpu": 3, "cpu": 500}},
		{"an init container asking more", `
      initContainers: [{name: i, resources: {limits: {amd.com/gpu: 4}}}]
      containers: [{name: a, resources: {requests: {amd.com/gpu: "1", memory: 1Gi}}}]
`, scheduler.Resources{"amd.com/gpu": 4, "memory": 1 << 30}},
		{"a fraction of a GPU fits nowhere; a negative cpu is none", `
      containers: [{name: a, resources: {limits: {nvidia.com/gpu: 0.5}, requests: {cpu: "-1"}}}]
`, scheduler.Resources{"nvidia.com/gpu": kube.MaxExtendedUnits + 1, "cpu": 0}},
		{"no resources", `
      containers: [{name: a}]
`, nil},
	} {
		kind, got := inspect(deploy(tc.spec))
		if kind != "Deployment" || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %s %v, want Deployment %v", tc.name, kind, got, tc.want)
		}
	}
}

// TestClusterExtendedRead: what a site publishes about a cluster's extended resources,
// through its soft record, reaches the view and the scheduler within the bounds of
// kube.ReadCapacity; what is past them is said in the view, and a workload asking for a
// GPU is divided to the cluster that has one free.
func TestClusterExtendedRead(t *testing.T) {
	s, _, _, _ := openTestSite(t)
	set := func(cluster string, fields map[string]string) []crdt.Op {
		var ops []crdt.Op
		for f, v := range fields {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("a", cluster), Field: f, Value: []byte(v)})
		}
		return ops
	}
	gpus := map[string]string{"health": "healthy", "allocatable/cpu": "16", "available/cpu": "8",
		"allocatable/nvidia.com/gpu": "8", "available/nvidia.com/gpu": "3", "allocatable/hugepages-2Mi": "1Gi", "available/frac.example.com/x": "1500m"}
	for i := range 40 {
		gpus[fmt.Sprintf("allocatable/v%02d.example.com/dev", i)] = "1"
	}
	ops := append(set("k0", gpus), set("k1", map[string]string{"health": "healthy", "allocatable/cpu": "16", "available/cpu": "8"})...)
	if _, _, err := s.record(ops); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	views := s.clusterViewsLocked()
	st := s.schedState(map[string]bool{"a": true})
	s.mu.Unlock()
	if len(views) != 2 || len(st.Clusters) != 2 {
		t.Fatalf("%d views, %d scheduler clusters; want 2", len(views), len(st.Clusters))
	}
	k0 := views[0]
	if k0.Allocatable["nvidia.com/gpu"] != "8" || k0.Available["nvidia.com/gpu"] != "3" || len(k0.Allocatable) != 1+kube.MaxExtended {
		t.Errorf("k0 reads %d allocatable resources (%v), available %v; want cpu and %d extended, nvidia.com/gpu 8 and 3 free",
			len(k0.Allocatable), k0.Allocatable, k0.Available, kube.MaxExtended)
	}
	notes := strings.Join(k0.Ignored, "\n")
	for _, want := range []string{`from "hugepages-2Mi"`, `from "frac.example.com/x"`, `9 extended resources beyond the first 32 by name not read, from "v31.example.com/dev"`} {
		if !strings.Contains(notes, want) {
			t.Errorf("k0's ignored notes lack %q:\n%s", want, notes)
		}
	}
	if len(views[1].Ignored) != 0 {
		t.Errorf("k1: %q ignored, want nothing", views[1].Ignored)
	}
	if got := st.Clusters[0].Available["nvidia.com/gpu"]; got != 3 || st.Clusters[0].Available["cpu"] != 8000 {
		t.Errorf("the scheduler sees k0 with %v", st.Clusters[0].Available)
	}
	w := &scheduler.Workload{Key: "ml/train", Replicas: 5, Request: scheduler.Resources{"nvidia.com/gpu": 1}}
	d := scheduler.Divide(w, st)
	if len(d.Sites) != 1 {
		t.Fatalf("division %+v", d)
	}
	local := scheduler.Local(w, d.Sites[0], st)
	if len(local) != 1 || local[0].Name != "k0" || local[0].Replicas != 5 {
		t.Errorf("a GPU workload placed %+v; want all 5 replicas in k0, the cluster with free GPUs", local)
	}
}
