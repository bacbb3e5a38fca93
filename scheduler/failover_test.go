package scheduler

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func (st *State) taint(site, cluster, key, effect string, since time.Time) *State {
	c := st.cluster(site, cluster)
	c.Taints = append(c.Taints, Taint{Key: key, Effect: effect, Since: since})
	return st
}

func obs(desired, ready int) Observed { return Observed{Desired: desired, Ready: ready} }

// A NoSchedule taint is a cordon: the cluster keeps the replicas it runs (the same
// pods), a scale-up goes elsewhere, a scale-down takes from it first, and it never gains.
func TestCordonKeepsWhatRuns(t *testing.T) {
	st := fed("a:EU:2 b:EU:1").taint("a", "c1", "maintenance", NoSchedule, time.Time{})
	w := &Workload{Key: "shop/web", Replicas: 6, Status: map[string]Observed{"a/c1": obs(2, 2), "a/c2": obs(2, 2), "b/c1": obs(2, 2)}}
	if got := place(w, st); got != "a/c1=2 a/c2=2 b/c1=2" {
		t.Fatalf("cordoned, same replicas: %s, want every replica where it runs", got)
	}
	if d := byName(Divide(w, st)); d["a"].Reason == "" || d["a"].Replicas != 4 {
		t.Errorf("a: %+v, want 4 with the cordon in the reason", d["a"])
	}
	w.Replicas = 10 // the 4 new ones go to a/c2 and b/c1
	if got := place(w, st); got != "a/c1=2 a/c2=4 b/c1=4" {
		t.Errorf("scale-up: %s, want a/c1 still 2 and the rest divided a/c2:b/c1 4:4", got)
	}
	w.Replicas, w.Status["a/c2"], w.Status["b/c1"] = 8, obs(4, 4), obs(4, 4)
	if got := place(w, st); got != "a/c2=4 b/c1=4" {
		t.Errorf("scale-down to 8: %s, want the cordoned cluster emptied first", got)
	}
	w.Status = map[string]Observed{"a/c2": obs(4, 4), "b/c1": obs(4, 4)}
	w.Replicas = 12
	if got := place(w, st); got != "a/c2=6 b/c1=6" {
		t.Errorf("cordoned, running nothing: %s, want it to get nothing", got)
	}
	// Duplicated: a cordoned cluster that runs the workload keeps all of it; one that
	// does not gets none.
	dup := &Workload{Key: "shop/agent", Replicas: 2, Policy: Policy{Placement: Placement{ReplicaScheduling: &ReplicaScheduling{ReplicaSchedulingType: Duplicated}}},
		Status: map[string]Observed{"a/c1": obs(2, 2), "b/c1": obs(2, 2)}}
	if got := place(dup, st); got != "a/c1=2 a/c2=2 b/c1=2" {
		t.Errorf("duplicated: %s, want the cordoned a/c1 to keep its 2", got)
	}
	dup.Status = map[string]Observed{"b/c1": obs(2, 2)}
	if got := place(dup, st); got != "a/c2=2 b/c1=2" {
		t.Errorf("duplicated, cordoned running nothing: %s", got)
	}
	// A cordoned cluster whose site is dead keeps nothing on paper: the live sites take over.
	st.kill("a")
	w.Replicas, w.Status = 6, map[string]Observed{"a/c1": obs(3, 3), "b/c1": obs(3, 3)}
	if got := place(w, st); got != "b/c1=6" {
		t.Errorf("cordoned on a dead site: %s, want b to take over all 6", got)
	}
}

// A NoExecute taint tolerated for tolerationSeconds keeps the workload eligible until
// then, by the viewer's clock from when the owning site set it; after it the replicas
// move make-before-break. Without a known start, or a clock, the toleration never ends.
func TestTolerationSecondsRunOut(t *testing.T) {
	secs := int64(30)
	pol := Policy{Placement: Placement{ClusterTolerations: []Toleration{{Key: "maintenance", Operator: "Exists", Effect: NoExecute, TolerationSeconds: &secs}}}}
	st := fed("a:EU:1 b:EU:1").taint("a", "c1", "maintenance", NoExecute, t0)
	w := &Workload{Key: "shop/web", Replicas: 4, Policy: pol, Status: map[string]Observed{"a/c1": obs(2, 2), "b/c1": obs(2, 2)}}
	for _, now := range []time.Time{{}, t0.Add(29 * time.Second)} {
		st.Now = now
		if got := place(w, st); got != "a/c1=2 b/c1=2" {
			t.Fatalf("at %v: %s, want a still placed", now, got)
		}
	}
	st.Now = t0.Add(30 * time.Second)
	if got := place(w, st); got != "a/c1=2 b/c1=4" {
		t.Fatalf("toleration over: %s, want a's 2 held while b scales to 4", got)
	}
	w.Status["b/c1"] = obs(4, 4)
	if got := place(w, st); got != "b/c1=4" {
		t.Errorf("once b is ready: %s, want a empty", got)
	}
	// Within a site: the tainted cluster holds its replicas until the other is ready.
	st = fed("a:EU:2").taint("a", "c1", "maintenance", NoExecute, t0)
	st.Now = t0.Add(time.Minute)
	w.Status = map[string]Observed{"a/c1": obs(2, 2), "a/c2": obs(2, 2)}
	if got := place(w, st); got != "a/c1=2 a/c2=4" {
		t.Errorf("in one site: %s, want c1 held while c2 scales to 4", got)
	}
	w.Status["a/c2"] = obs(4, 4)
	if got := place(w, st); got != "a/c2=4" {
		t.Errorf("in one site, c2 ready: %s", got)
	}
	// The least tolerationSeconds of the matching tolerations counts, as in Kubernetes.
	short := int64(5)
	w.Policy.ClusterTolerations = append(w.Policy.ClusterTolerations, Toleration{Key: "maintenance", Operator: "Exists", TolerationSeconds: &short})
	st.Now = t0.Add(6 * time.Second)
	if Tolerates(w.Policy.ClusterTolerations, st.cluster("a", "c1")) != true || judge(w.Policy.ClusterTolerations, st.cluster("a", "c1"), st.Now) != evicting {
		t.Errorf("two tolerations, 5 s and 30 s, at 6 s: want evicting")
	}
}

// Application failover: the owning site evicts a workload unhealthy there for the
// toleration; while the eviction is in force no site places it there, the purge mode
// says what happens to what it runs, and after gracePeriodSeconds the cluster is usable
// again.
func TestApplicationFailover(t *testing.T) {
	tol, grace := int32(60), int32(300)
	app := &ApplicationFailover{DecisionConditions: DecisionConditions{TolerationSeconds: &tol}, GracePeriodSeconds: &grace}
	w := &Workload{Key: "shop/web", Replicas: 4, Policy: Policy{Failover: &Failover{Application: app}}}
	sick := Observed{Desired: 2, UnhealthySince: t0}
	for _, c := range []struct {
		o    Observed
		now  time.Time
		want bool
	}{
		{sick, time.Time{}, false},
		{sick, t0.Add(59 * time.Second), false},
		{sick, t0.Add(60 * time.Second), true},
		{obs(2, 2), t0.Add(time.Hour), false},
		{Observed{Desired: 2, UnhealthySince: t0, EvictedAt: t0.Add(time.Minute)}, t0.Add(2 * time.Minute), false}, // in force
		{Observed{Desired: 2, UnhealthySince: t0, EvictedAt: t0.Add(time.Minute)}, t0.Add(6 * time.Minute), true},  // over: again
	} {
		if got := w.EvictNow(c.o, c.now); got != c.want {
			t.Errorf("EvictNow(%+v, %v) = %v, want %v", c.o, c.now, got, c.want)
		}
	}
	if (&Workload{}).EvictNow(sick, t0.Add(time.Hour)) {
		t.Errorf("EvictNow without failover in the policy: want false")
	}

	st := fed("a:EU:1 b:EU:1")
	st.Now = t0.Add(2 * time.Minute)
	evicted := Observed{Desired: 2, UnhealthySince: t0, EvictedAt: t0.Add(time.Minute)}
	for _, c := range []struct{ mode, notReady, ready string }{
		{"", "a/c1=2 b/c1=4", "b/c1=4"},
		{PurgeGraciously, "a/c1=2 b/c1=4", "b/c1=4"},
		{PurgeDirectly, "b/c1=4", "b/c1=4"},
		{PurgeImmediately, "b/c1=4", "b/c1=4"},
		{PurgeNever, "a/c1=2 b/c1=4", "a/c1=2 b/c1=4"},
	} {
		app.PurgeMode = c.mode
		w.Status = map[string]Observed{"a/c1": evicted, "b/c1": obs(2, 2)}
		if got := place(w, st); got != c.notReady {
			t.Errorf("purgeMode %q, b not ready: %s, want %s", c.mode, got, c.notReady)
		}
		w.Status["b/c1"] = obs(4, 4)
		if got := place(w, st); got != c.ready {
			t.Errorf("purgeMode %q, b ready: %s, want %s", c.mode, got, c.ready)
		}
		w.Status["a/c1"] = Observed{EvictedAt: evicted.EvictedAt} // it left: the eviction sticks
		if got := place(w, st); got != "b/c1=4" {
			t.Errorf("purgeMode %q, after it left: %s, want it not to come back", c.mode, got)
		}
	}
	st.Now = t0.Add(7 * time.Minute) // the eviction is over
	if got := place(w, st); got != "a/c1=2 b/c1=4" {
		t.Errorf("eviction over: %s, want a placed again (b's surplus held until a is ready)", got)
	}
}

// TestPropertyCordon: on random states (sites dead, clusters unhealthy, replicas held),
// a cordoned cluster never gets more replicas of a Divided workload than it runs, so one
// that runs nothing gets nothing.
func TestPropertyCordon(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		cordon := map[string]bool{}
		for i := range st.Clusters {
			if c := &st.Clusters[i]; r.IntN(3) == 0 {
				c.Taints = append(c.Taints, Taint{Key: "drain", Effect: NoSchedule})
				cordon[c.Site+"/"+c.Name] = true
			}
		}
		if duplicated(w) {
			return
		}
		for _, s := range Divide(w, st).Sites {
			if s.Replicas == 0 {
				continue
			}
			for _, c := range Local(w, s, st) {
				key := s.Name + "/" + c.Name
				if o := w.Status[key]; cordon[key] && c.Replicas > o.Desired {
					t.Fatalf("cordoned %s: %d replicas, it runs %d", key, c.Replicas, o.Desired)
				}
			}
		}
	})
}

// TestPropertyToleratedUntilItRunsOut: a NoExecute taint that the workload tolerates
// with tolerationSeconds changes nothing before they pass, nor without a clock or a known
// start: the placement is the one without the taint.
func TestPropertyToleratedUntilItRunsOut(t *testing.T) {
	secs := int64(60)
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		w.Policy.ClusterTolerations = []Toleration{{Key: "maint", Operator: "Exists", Effect: NoExecute, TolerationSeconds: &secs}}
		want := place(w, st)
		tainted := *st
		tainted.Clusters = slices.Clone(st.Clusters)
		tainted.Now = t0.Add(time.Duration(r.IntN(60)) * time.Second)
		for i := range tainted.Clusters {
			if r.IntN(2) == 0 {
				since := t0
				if r.IntN(4) == 0 {
					since = time.Time{}
				}
				tainted.Clusters[i].Taints = []Taint{{Key: "maint", Effect: NoExecute, Since: since}}
			}
		}
		if r.IntN(4) == 0 {
			tainted.Now = time.Time{}
		}
		if got := place(w, &tainted); got != want {
			t.Fatalf("tolerated for %v at %v: %s, untainted %s", secs, tainted.Now, got, want)
		}
	})
}

// TestNext: a site passes again when a toleration runs out, an eviction falls due or
// ends, not only at its periodic pass.
func TestNext(t *testing.T) {
	secs := int64(30)
	tol, grace := int32(60), int32(300)
	st := fed("a:EU:1 b:EU:1").taint("a", "c1", "maint", NoExecute, t0)
	w := &Workload{Key: "shop/web", Replicas: 2, Policy: Policy{Placement: Placement{ClusterTolerations: []Toleration{{Key: "maint", Operator: "Exists", TolerationSeconds: &secs}}}}}
	if got := Next(w, st); !got.IsZero() {
		t.Errorf("without a clock: %v", got)
	}
	st.Now = t0.Add(10 * time.Second)
	if got := Next(w, st); !got.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("toleration: %v, want t0+30s", got)
	}
	w.Policy.Failover = &Failover{Application: &ApplicationFailover{DecisionConditions: DecisionConditions{TolerationSeconds: &tol}, GracePeriodSeconds: &grace}}
	w.Status = map[string]Observed{"b/c1": {Desired: 1, UnhealthySince: t0.Add(-45 * time.Second)}}
	if got := Next(w, st); !got.Equal(t0.Add(15 * time.Second)) {
		t.Errorf("eviction due: %v, want t0+15s", got)
	}
	st.Now = t0.Add(time.Minute)
	w.Status = map[string]Observed{"b/c1": {EvictedAt: t0}}
	if got := Next(w, st); !got.Equal(t0.Add(300 * time.Second)) {
		t.Errorf("eviction ends: %v, want t0+300s", got)
	}
}

// A Duplicated workload's cordoned cluster keeps it without keeping it anywhere else in
// its site: the site's other clusters, outside the placement, let it go.
func TestCordonDuplicatedKeepsOnlyItself(t *testing.T) {
	st := fed("a:EU:2 b:EU:1").taint("a", "c2", "drain", NoSchedule, time.Time{})
	dup := &Workload{Key: "shop/agent", Replicas: 1, Policy: Policy{Placement: Placement{
		ClusterAffinity:   &ClusterAffinity{ExcludeClusters: []string{"a/c1"}},
		ReplicaScheduling: &ReplicaScheduling{ReplicaSchedulingType: Duplicated}}},
		Status: map[string]Observed{"a/c1": obs(1, 1), "a/c2": obs(1, 1), "b/c1": obs(1, 1)}}
	if got := place(dup, st); got != "a/c2=1 b/c1=1" {
		t.Errorf("%s, want the cordoned a/c2 kept and a/c1, outside the placement, let go", got)
	}
}
