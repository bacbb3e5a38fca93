package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func (st *State) drain(site string) *State {
	for i := range st.Sites {
		if st.Sites[i].Name == site {
			st.Sites[i].Draining = true
		}
	}
	return st
}

// A draining site gets no share; it keeps what it runs until the others are ready, at
// both levels, and then nothing.
func TestDrainHandsOverMakeBeforeBreak(t *testing.T) {
	st := fed("a:EU:1 b:EU:1 c:US:1 d:US:2").drain("d")
	w := &Workload{Key: "shop/web", Replicas: 8, Status: map[string]Observed{
		"a/c1": {Desired: 2, Ready: 2}, "b/c1": {Desired: 2, Ready: 2}, "c/c1": {Desired: 2, Ready: 2}, "d/c1": {Desired: 1, Ready: 1}, "d/c2": {Desired: 1, Ready: 1}}}
	got := byName(Divide(w, st))
	if fmt.Sprint(got["a"].Base, got["b"].Base, got["c"].Base, got["d"].Base) != "3 3 2 0" {
		t.Fatalf("bases a=%+v b=%+v c=%+v d=%+v, want 3 3 2 0", got["a"], got["b"], got["c"], got["d"])
	}
	if d := got["d"]; d.Replicas != 2 || d.Hold != 2 || !strings.HasPrefix(d.Reason, "draining; ") {
		t.Fatalf("d: %+v, want its 2 replicas held, draining", d)
	}
	if l := Local(w, got["d"], st); len(l) != 2 || l[0].Replicas != 1 || l[1].Replicas != 1 {
		t.Errorf("d's clusters: %+v, want c1=1 c2=1 where they run", l)
	}
	// The others scale up; one replica is not ready yet: d holds one, which covers it.
	w.Status["a/c1"], w.Status["b/c1"] = Observed{Desired: 3, Ready: 3}, Observed{Desired: 3, Ready: 2}
	if d := byName(Divide(w, st))["d"]; d.Replicas != 1 || d.Hold != 1 {
		t.Errorf("d while b is short of one: %+v, want 1 held", d)
	}
	w.Status["b/c1"] = Observed{Desired: 3, Ready: 3}
	if got := place(w, st); got != "a/c1=3 b/c1=3 c/c1=2" {
		t.Errorf("once the others are ready: %s, want d empty", got)
	}
}

// A drained site that the viewer sees dead changes nothing: its base share was 0.
func TestDrainDeadSite(t *testing.T) {
	st := fed("a:EU:1 b:EU:1 c:US:1").drain("c").kill("c")
	w := &Workload{Key: "shop/web", Replicas: 6, Status: map[string]Observed{"c/c1": {Desired: 2, Ready: 2}}}
	d := Divide(w, st)
	if got := byName(d); d.Missing != 0 || got["a"].Replicas != 3 || got["b"].Replicas != 3 || got["a"].Takeover != 0 {
		t.Errorf("division %+v, want a and b at 3 each, nothing taken over or missing", d)
	}
}

// A workload bound to the draining site's jurisdiction alone has nowhere to go: the site
// keeps running it, and the division says it is short.
func TestDrainBoundNowhereElse(t *testing.T) {
	st := fed("a:EU:1 b:US:1").drain("b")
	w := &Workload{Key: "shop/web", Replicas: 3, Bound: []string{"US"}, Status: map[string]Observed{"b/c1": {Desired: 3, Ready: 3}}}
	d := Divide(w, st)
	if got := byName(d)["b"]; d.Missing != 3 || got.Replicas != 3 || len(d.Conditions) == 0 {
		t.Errorf("division %+v, want b to keep 3 and 3 missing with a condition", d)
	}
	if got := place(w, st); got != "b/c1=3" {
		t.Errorf("placement %s, want b/c1=3", got)
	}
}

// Duplicated: the draining site keeps the workload until every placed site is ready.
func TestDrainDuplicated(t *testing.T) {
	st := fed("a:EU:1 b:US:1").drain("b")
	w := &Workload{Key: "shop/agent", Replicas: 2, Policy: Policy{Placement: Placement{ReplicaScheduling: &ReplicaScheduling{ReplicaSchedulingType: Duplicated}}},
		Status: map[string]Observed{"a/c1": {Desired: 2, Ready: 1}, "b/c1": {Desired: 2, Ready: 2}}}
	if got := place(w, st); got != "a/c1=2 b/c1=2" {
		t.Errorf("a not ready: %s, want b to keep it", got)
	}
	w.Status["a/c1"] = Observed{Desired: 2, Ready: 2}
	if got := place(w, st); got != "a/c1=2" {
		t.Errorf("a ready: %s, want a only", got)
	}
}

// Drains simulated step by step: each step every site applies its part (a site scales
// down at once, and up by at most one ready replica per cluster per step, some steps
// none), in random order and with stale status for some sites. The ready replicas
// summed over all clusters never fall below the desired count, and the drain ends with
// nothing on the draining site.
func TestDrainNeverDips(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		st := fed("a:EU:2 b:EU:1 c:US:1 d:US:2")
		replicas := 1 + rng.IntN(20)
		w := &Workload{Key: "shop/web", Replicas: replicas, Status: map[string]Observed{}}
		if rng.IntN(3) == 0 {
			w.Policy.ReplicaScheduling = &ReplicaScheduling{ReplicaSchedulingType: Divided, WeightPreference: &WeightPreference{
				StaticWeightList: []StaticWeight{{TargetCluster: ClusterAffinity{ClusterNames: []string{"a/c1"}}, Weight: 3}, {TargetCluster: ClusterAffinity{}, Weight: 1}}}}
		}
		status := w.Status
		step := func() {
			snapshot := maps.Clone(status)
			for _, site := range rng.Perm(len(st.Sites)) {
				name := st.Sites[site].Name
				view := &Workload{Key: w.Key, Replicas: w.Replicas, Policy: w.Policy, Status: status}
				if rng.IntN(4) == 0 {
					view.Status = snapshot // this site has not heard the others' news yet
				}
				target := map[string]int{}
				for _, sh := range Divide(view, st).Sites {
					if sh.Name == name && sh.Replicas > 0 {
						for _, c := range Local(view, sh, st) {
							target[c.Name] = c.Replicas
						}
					}
				}
				for _, c := range st.Clusters {
					if c.Site != name {
						continue
					}
					k := name + "/" + c.Name
					o := status[k]
					want := target[c.Name]
					o.Desired = want
					if o.Ready > want {
						o.Ready = want
					} else if o.Ready < want && rng.IntN(2) == 0 {
						o.Ready++
					}
					if want == 0 {
						delete(status, k)
					} else {
						status[k] = o
					}
				}
			}
		}
		total := func() (ready int) {
			for _, o := range status {
				ready += o.Ready
			}
			return ready
		}
		for range 200 {
			if step(); total() == replicas && len(status) > 0 {
				break
			}
		}
		if total() != replicas {
			t.Fatalf("seed %d: %d replicas ready before the drain, want %d: %v", seed, total(), replicas, status)
		}
		st.drain("d")
		done := false
		for i := range 400 {
			step()
			if got := total(); got < replicas {
				t.Fatalf("seed %d step %d: %d ready, want at least %d: %v", seed, i, got, replicas, status)
			}
			onD := slices.ContainsFunc(slices.Collect(maps.Keys(status)), func(k string) bool { return strings.HasPrefix(k, "d/") })
			if !onD && total() == replicas {
				done = true
				break
			}
		}
		if !done {
			t.Fatalf("seed %d: the drain did not end in 400 steps: %v", seed, status)
		}
	}
}
