package scheduler

import (
	"math"
	"testing"
)

func TestAddSat(t *testing.T) {
	for _, tt := range []struct{ a, b, want int64 }{
		{1, 2, 3}, {-5, 3, -2}, {math.MaxInt64, 1, math.MaxInt64}, {math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MinInt64, -1, math.MinInt64}, {math.MaxInt64, math.MinInt64, -1},
	} {
		if got := addSat(tt.a, tt.b); got != tt.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestHugeStaticWeights: weights from a signed placement that would overflow a sum or a
// product divide as their proportions say, in both levels.
func TestHugeStaticWeights(t *testing.T) {
	st := fed("a:EU:2 b:US:2")
	w := Workload{Key: "ns/huge", Replicas: 9, Policy: Policy{Placement: Placement{ReplicaScheduling: divided(&WeightPreference{StaticWeightList: []StaticWeight{
		{TargetCluster: ClusterAffinity{ClusterNames: []string{"a/c1", "a/c2", "b/c1"}}, Weight: math.MaxInt64},
		{TargetCluster: ClusterAffinity{ClusterNames: []string{"b/c2"}}, Weight: math.MaxInt64 / 2}}}, Weighted)}}}
	// a sums to MaxInt64 (saturated), b to MaxInt64 too: an even split of the sites.
	if got, want := place(&w, st), "a/c1=3 a/c2=2 b/c1=3 b/c2=1"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	w.Replicas = 1e9
	d := Divide(&w, st)
	total := 0
	for _, s := range d.Sites {
		for _, c := range Local(&w, s, st) {
			total += c.Replicas
		}
	}
	if total != 1e9 {
		t.Errorf("placed %d of 1e9 replicas: %+v", total, d)
	}
}
