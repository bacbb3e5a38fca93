package scheduler

import (
	"math/rand/v2"
	"strings"
	"testing"
)

const gpu = "nvidia.com/gpu"

func TestExtended(t *testing.T) {
	for name, want := range map[string]bool{
		"nvidia.com/gpu": true, "amd.com/gpu": true, "gpu.intel.com/i915": true, "example.com/a/b": true,
		"cpu": false, "memory": false, "pods": false, "hugepages-2Mi": false, "ephemeral-storage": false,
		"kubernetes.io/batch-cpu": false, "scheduling.kubernetes.io/foo": false, "requests.nvidia.com/gpu": false,
	} {
		if got := Extended(name); got != want {
			t.Errorf("Extended(%q) = %t, want %t", name, got, want)
		}
	}
}

// withGPUs sets the free GPUs of clusters by "site/cluster".
func withGPUs(free map[string]int64) func(*State) {
	return func(st *State) {
		for k, n := range free {
			s, c, _ := strings.Cut(k, "/")
			st.cluster(s, c).Available[gpu] = n
		}
	}
}

// TestExtendedFit: a cluster without the free extended resources of one replica gets
// none of a workload that asks for them, under every division; one that already runs it
// keeps it; what asks for none goes anywhere as before.
func TestExtendedFit(t *testing.T) {
	dynamic := Policy{Placement: Placement{ReplicaScheduling: divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)}}
	dup := Policy{Placement: Placement{ReplicaScheduling: &ReplicaScheduling{ReplicaSchedulingType: Duplicated}}}
	for _, tt := range []struct {
		name  string
		w     Workload
		free  map[string]int64 // free GPUs by cluster; the others publish none
		want  string
		cond  string
		setup func(*State)
	}{
		{name: "only the GPU cluster, evenly divided", w: Workload{Replicas: 6, Request: Resources{gpu: 1, "cpu": 100}},
			free: map[string]int64{"a/c1": 8}, want: "a/c1=6"},
		{name: "two per replica: a cluster with one free gets none", w: Workload{Replicas: 4, Request: Resources{gpu: 2}},
			free: map[string]int64{"a/c1": 1, "b/c1": 4}, want: "b/c1=4"},
		{name: "dynamic weights count GPUs", w: Workload{Replicas: 6, Request: Resources{gpu: 1, "cpu": 100}, Policy: dynamic},
			free: map[string]int64{"a/c1": 2, "b/c1": 4}, want: "a/c1=2 b/c1=4"},
		{name: "duplicated goes only where it fits", w: Workload{Replicas: 2, Request: Resources{gpu: 1}, Policy: dup},
			free: map[string]int64{"b/c1": 1}, want: "b/c1=2"},
		{name: "a cluster running it stays though its GPUs are taken (by it)",
			w:    Workload{Replicas: 4, Request: Resources{gpu: 1}, Status: map[string]Observed{"a/c1": {Desired: 2, Ready: 2}}},
			free: map[string]int64{"a/c1": 0, "b/c1": 2}, want: "a/c1=2 b/c1=2"},
		{name: "nowhere: missing, and said", w: Workload{Replicas: 3, Request: Resources{gpu: 1}},
			want: "", cond: "no usable cluster has free nvidia.com/gpu 1 for one replica"},
		{name: "the fallback term when the first has no GPU", w: Workload{Replicas: 4, Request: Resources{gpu: 1},
			Policy: Policy{Placement: Placement{ClusterAffinities: fallback()}}},
			free: map[string]int64{"b/c1": 4}, want: "b/c1=4"},
		{name: "no extended request: GPUs change nothing", w: Workload{Replicas: 4, Request: Resources{"cpu": 100}},
			free: map[string]int64{"a/c1": 8}, want: "a/c1=2 a/c2=1 b/c1=1"},
		{name: "kinds without replicas are placed whole", w: Workload{Replicas: -1, Request: Resources{gpu: 1}},
			want: "a/c1=1 a/c2=1 b/c1=1"},
		{name: "a dead GPU site's share is not taken over by clusters without GPUs",
			w: Workload{Replicas: 4, Request: Resources{gpu: 1}}, free: map[string]int64{"a/c1": 8},
			setup: func(st *State) { st.kill("a") }, want: "", cond: "4 replicas of unavailable sites a not taken over"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := fed("a:EU:2 b:US:1")
			withGPUs(tt.free)(st)
			if tt.setup != nil {
				tt.setup(st)
			}
			w := tt.w
			w.Key = "ml/train"
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

// No cluster gets a replica of a workload asking for GPUs unless it has the free GPUs of
// one replica or runs the workload already, whatever the policy, liveness and status;
// and the division still sums to the replicas when every site is alive and some cluster
// fits. Random states: the seed is printed, -seed replays it.
func TestPropertyExtendedFit(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		for i := range st.Clusters {
			if r.IntN(2) == 0 {
				st.Clusters[i].Available[gpu] = int64(r.IntN(5))
			}
		}
		w.Request[gpu] = int64(1 + r.IntN(2))
		check := func(st *State) (placed int) {
			for _, s := range Divide(w, st).Sites {
				for _, c := range Local(w, s, st) {
					if c.Replicas == 0 {
						continue
					}
					placed += c.Replicas
					key := s.Name + "/" + c.Name
					if free := st.cluster(s.Name, c.Name).Available[gpu]; free < w.Request[gpu] && w.Status[key].Desired == 0 {
						t.Errorf("%s got %d replicas asking %d GPUs each with %d free and none running there", key, c.Replicas, w.Request[gpu], free)
					}
				}
			}
			return placed
		}
		check(st)
		all := allAlive(st)
		w.Status = nil
		placed := check(all)
		if fit := len(NewPlanner(all).eligible(w, true).at) > 0; fit && !duplicated(w) && placed != w.Replicas {
			t.Errorf("every site alive and a cluster fits, yet %d of %d replicas placed", placed, w.Replicas)
		}
	})
}
