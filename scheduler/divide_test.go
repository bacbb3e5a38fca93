package scheduler

import (
	"math"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func divided(wp *WeightPreference, pref string) *ReplicaScheduling {
	return &ReplicaScheduling{ReplicaSchedulingType: Divided, ReplicaDivisionPreference: pref, WeightPreference: wp}
}

func TestPlacementRules(t *testing.T) {
	no := false
	tests := []struct {
		name  string
		fed   string
		w     Workload
		setup func(*State)
		want  string // both levels, "site/cluster=n ..."
		cond  string // a substring of the conditions, if any
	}{
		{name: "default divides evenly over clusters", fed: "a:EU:2 b:EU:1 c:US:2",
			w: Workload{Replicas: 10}, want: "a/c1=2 a/c2=2 b/c1=2 c/c1=2 c/c2=2"},
		{name: "Webster rounding", fed: "a:EU:2 b:EU:1",
			w: Workload{Replicas: 10}, want: "a/c1=4 a/c2=3 b/c1=3"},
		{name: "bound keeps it inside", fed: "a:EU:2 b:EU:1 c:US:2",
			w: Workload{Replicas: 10, Bound: []string{"EU"}}, want: "a/c1=4 a/c2=3 b/c1=3"},
		{name: "duplicated", fed: "a:EU:2 b:US:1",
			w:    Workload{Replicas: 3, Policy: Policy{Placement: Placement{ReplicaScheduling: &ReplicaScheduling{ReplicaSchedulingType: Duplicated}}}},
			want: "a/c1=3 a/c2=3 b/c1=3"},
		{name: "kinds without replicas go everywhere", fed: "a:EU:1 b:US:1",
			w: Workload{Replicas: -1}, want: "a/c1=1 b/c1=1"},
		{name: "static weights", fed: "a:EU:2 b:US:2",
			w: Workload{Replicas: 6, Policy: Policy{Placement: Placement{ReplicaScheduling: divided(&WeightPreference{StaticWeightList: []StaticWeight{
				{TargetCluster: ClusterAffinity{ClusterNames: []string{"c1"}}, Weight: 2},
				{TargetCluster: ClusterAffinity{ClusterNames: []string{"c2"}}, Weight: 1}}}, Weighted)}}},
			want: "a/c1=2 a/c2=1 b/c1=2 b/c2=1"},
		{name: "static weights leave unlisted clusters out", fed: "a:EU:2 b:US:2",
			w: Workload{Replicas: 4, Policy: Policy{Placement: Placement{ReplicaScheduling: divided(&WeightPreference{StaticWeightList: []StaticWeight{
				{TargetCluster: ClusterAffinity{ClusterNames: []string{"b/c2"}}, Weight: 1}}}, Weighted)}}},
			want: "b/c2=4"},
		{name: "dynamic weights follow available replicas", fed: "a:EU:2 b:US:2",
			w: Workload{Replicas: 10, Request: Resources{"cpu": 1000}, Policy: Policy{Placement: Placement{ReplicaScheduling: divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)}}},
			setup: func(st *State) {
				st.cluster("a", "c1").Available["cpu"] = 2000
				st.cluster("a", "c2").Available["cpu"] = 2000
			},
			want: "a/c1=1 a/c2=1 b/c1=4 b/c2=4"},
		{name: "aggregated packs into the fewest clusters", fed: "a:EU:2 b:US:2",
			w: Workload{Replicas: 10, Request: Resources{"cpu": 1000}, Policy: Policy{Placement: Placement{ReplicaScheduling: divided(nil, Aggregated)}}},
			setup: func(st *State) {
				st.cluster("a", "c1").Available["cpu"] = 2000
				st.cluster("b", "c2").Available["cpu"] = 6000
				st.cluster("a", "c2").Available["cpu"] = 5000
			},
			// b/c1 fits 8, b/c2 6: enough between them.
			want: "b/c1=6 b/c2=4"},
		{name: "cluster names, bare or with the site", fed: "a:EU:2 b:US:2",
			w:    Workload{Replicas: 6, Policy: Policy{Placement: Placement{ClusterAffinity: &ClusterAffinity{ClusterNames: []string{"b/c1", "c2"}}}}},
			want: "a/c2=2 b/c1=2 b/c2=2"},
		{name: "exclude", fed: "a:EU:2 b:US:2",
			w:    Workload{Replicas: 6, Policy: Policy{Placement: Placement{ClusterAffinity: &ClusterAffinity{ExcludeClusters: []string{"c2"}}}}},
			want: "a/c1=3 b/c1=3"},
		{name: "label selector", fed: "a:EU:2 b:US:2",
			w:    Workload{Replicas: 4, Policy: Policy{Placement: Placement{ClusterAffinity: &ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "2"}}}}}},
			want: "a/c2=2 b/c2=2"},
		{name: "field selector", fed: "a:EU:2 b:US:2",
			w: Workload{Replicas: 4, Policy: Policy{Placement: Placement{ClusterAffinity: &ClusterAffinity{FieldSelector: &FieldSelector{
				MatchExpressions: []Requirement{{Key: "region", Operator: "In", Values: []string{"r-b"}}}}}}}},
			want: "b/c1=2 b/c2=2"},
		{name: "jurisdiction field", fed: "a:EU:1 b:US:1",
			w: Workload{Replicas: 2, Policy: Policy{Placement: Placement{ClusterAffinity: &ClusterAffinity{FieldSelector: &FieldSelector{
				MatchExpressions: []Requirement{{Key: "jurisdiction", Operator: "NotIn", Values: []string{"EU"}}}}}}}},
			want: "b/c1=2"},
		{name: "a taint keeps others off", fed: "a:EU:1 b:US:1",
			w:     Workload{Replicas: 2},
			setup: func(st *State) { st.cluster("b", "c1").Taints = []Taint{{Key: "gpu", Effect: NoSchedule}} },
			want:  "a/c1=2"},
		{name: "a toleration lets it on", fed: "a:EU:1 b:US:1",
			w:     Workload{Replicas: 2, Policy: Policy{Placement: Placement{ClusterTolerations: []Toleration{{Key: "gpu", Operator: "Exists"}}}}},
			setup: func(st *State) { st.cluster("b", "c1").Taints = []Taint{{Key: "gpu", Effect: NoSchedule}} },
			want:  "a/c1=1 b/c1=1"},
		{name: "unhealthy clusters get nothing", fed: "a:EU:2 b:EU:2",
			w:     Workload{Replicas: 8},
			setup: func(st *State) { st.cluster("a", "c1").Healthy = false },
			want:  "a/c2=3 b/c1=3 b/c2=2"},
		{name: "first affinity term", fed: "a:EU:1 b:US:1",
			w:    Workload{Replicas: 4, Policy: Policy{Placement: Placement{ClusterAffinities: fallback()}}},
			want: "a/c1=4"},
		{name: "fallback affinity term when the first has no live cluster", fed: "a:EU:1 b:US:1",
			w:     Workload{Replicas: 4, Policy: Policy{Placement: Placement{ClusterAffinities: fallback()}}},
			setup: func(st *State) { st.kill("a") },
			want:  "b/c1=4"},
		{name: "spread: at most two sites, the heaviest", fed: "a:EU:2 b:EU:1 c:US:2",
			w:    Workload{Replicas: 10, Policy: Policy{Placement: Placement{SpreadConstraints: []SpreadConstraint{{SpreadByField: "site", MaxGroups: 2}}}}},
			want: "a/c1=3 a/c2=2 c/c1=3 c/c2=2"},
		{name: "spread: too few groups is said", fed: "a:EU:1 b:EU:1",
			w:    Workload{Replicas: 2, Policy: Policy{Placement: Placement{SpreadConstraints: []SpreadConstraint{{SpreadByField: "region", MinGroups: 3}}}}},
			want: "a/c1=1 b/c1=1", cond: "2 groups usable, the policy wants at least 3"},
		{name: "takeover", fed: "a:EU:1 b:EU:1 c:EU:1",
			w: Workload{Replicas: 9}, setup: func(st *State) { st.kill("c") }, want: "a/c1=5 b/c1=4"},
		{name: "takeover off", fed: "a:EU:1 b:EU:1 c:EU:1",
			w:     Workload{Replicas: 9, Policy: Policy{Takeover: &no}},
			setup: func(st *State) { st.kill("c") }, want: "a/c1=3 b/c1=3", cond: "3 replicas of unavailable sites c not taken over"},
		{name: "max surge", fed: "a:EU:1 b:EU:1 c:EU:1",
			w:     Workload{Replicas: 9, Policy: Policy{MaxSurge: "1"}},
			setup: func(st *State) { st.kill("c") }, want: "a/c1=4 b/c1=3", cond: "takeover limited to 1"},
		{name: "max surge in percent, rounded up", fed: "a:EU:1 b:EU:1 c:EU:1 d:EU:1",
			w:     Workload{Replicas: 8, Policy: Policy{MaxSurge: "30%"}},
			setup: func(st *State) { st.kill("c").kill("d") }, want: "a/c1=4 b/c1=3", cond: "takeover limited to 3"},
		{name: "no live site inside the bound: under-replicated, never spilled", fed: "a:EU:1 b:US:1",
			w:     Workload{Replicas: 4, Bound: []string{"EU"}},
			setup: func(st *State) { st.kill("a") }, want: "", cond: "no usable cluster inside the bound EU"},
		{name: "failback holds until the returning site is ready", fed: "a:EU:1 b:EU:1 c:EU:1",
			w: Workload{Replicas: 9, Status: map[string]Observed{"a/c1": {Desired: 5, Ready: 5}, "b/c1": {Desired: 4, Ready: 4}, "c/c1": {Desired: 3, Ready: 1}}},
			// c is short by 2: each holder keeps up to that much of its surplus.
			want: "a/c1=5 b/c1=4 c/c1=3"},
		{name: "failback done", fed: "a:EU:1 b:EU:1 c:EU:1",
			w:    Workload{Replicas: 9, Status: map[string]Observed{"a/c1": {Desired: 5, Ready: 5}, "b/c1": {Desired: 4, Ready: 4}, "c/c1": {Desired: 3, Ready: 3}}},
			want: "a/c1=3 b/c1=3 c/c1=3"},
		{name: "a recovered cluster fills before its sibling drains", fed: "a:EU:2",
			w:    Workload{Replicas: 4, Status: map[string]Observed{"a/c1": {Desired: 4, Ready: 4}, "a/c2": {Desired: 0, Ready: 0}}},
			want: "a/c1=4 a/c2=2"},
		{name: "scale down is immediate when nobody is short", fed: "a:EU:1 b:EU:1",
			w:    Workload{Replicas: 4, Status: map[string]Observed{"a/c1": {Desired: 5, Ready: 5}, "b/c1": {Desired: 5, Ready: 5}}},
			want: "a/c1=2 b/c1=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := fed(tt.fed)
			if tt.setup != nil {
				tt.setup(st)
			}
			w := tt.w
			w.Key = "shop/web"
			if got := place(&w, st); got != tt.want {
				t.Errorf("placement = %q, want %q\ndivision: %+v", got, tt.want, Divide(&w, st))
			}
			conds := strings.Join(Divide(&w, st).Conditions, "; ")
			if tt.cond != "" && !strings.Contains(conds, tt.cond) {
				t.Errorf("conditions = %q, want one with %q", conds, tt.cond)
			}
			if tt.cond == "" && conds != "" {
				t.Errorf("unexpected conditions %q", conds)
			}
		})
	}
}

func fallback() []ClusterAffinityTerm {
	return []ClusterAffinityTerm{
		{AffinityName: "primary", ClusterAffinity: ClusterAffinity{ClusterNames: []string{"a/c1"}}},
		{AffinityName: "backup", ClusterAffinity: ClusterAffinity{FieldSelector: &FieldSelector{MatchExpressions: []Requirement{{Key: "region", Operator: "In", Values: []string{"r-b"}}}}}},
	}
}

func TestReasons(t *testing.T) {
	st := fed("a:EU:1 b:EU:1 c:EU:1").kill("c")
	w := Workload{Key: "shop/web", Replicas: 9, Status: map[string]Observed{"b/c1": {Desired: 6, Ready: 6}}}
	d := Divide(&w, st)
	got := map[string]Share{}
	for _, s := range d.Sites {
		got[s.Name] = s
	}
	// Ties go to where replicas run: b (running 6) takes 2 of c's 3, a takes 1.
	if s := got["a"]; s.Replicas != 4 || s.Base != 3 || s.Takeover != 1 || !strings.Contains(s.Reason, "takeover: +1 from c") {
		t.Errorf("a: %+v", s)
	}
	if s := got["c"]; s.Replicas != 0 || s.Base != 3 || !strings.HasPrefix(s.Reason, "unavailable") {
		t.Errorf("c: %+v", s)
	}
	// b runs 6 against a target of 5 while a has none ready: b holds its surplus of 1.
	if s := got["b"]; s.Replicas != 6 || s.Takeover != 2 || s.Hold != 1 || !strings.Contains(s.Reason, "failback: +1") {
		t.Errorf("b: %+v", s)
	}
}

func TestSurge(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want int
	}{{"", 7, 7}, {"3", 7, 3}, {"50%", 7, 4}, {"0%", 7, 0}, {"x", 7, 0}, {"-1", 7, 0}, {"", -1, 0},
		{"9223372036854775807%", 100, math.MaxInt}, {"200%", 5e18, math.MaxInt}} {
		if got := Surge(tt.s, tt.n); got != tt.want {
			t.Errorf("Surge(%q, %d) = %d, want %d", tt.s, tt.n, got, tt.want)
		}
	}
}
