package scheduler

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	seedFlag = flag.Uint64("seed", 0, "property test seed (0: from the clock)")
	caseFlag = flag.Int("cases", 2000, "property test cases")
)

// forAll runs check on random states and workloads; a failure names the seed and case.
func forAll(t *testing.T, check func(t *testing.T, r *rand.Rand, st *State, w *Workload)) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./scheduler -run %s -seed %d)", seed, t.Name(), seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range *caseFlag {
		st, w := randomCase(r)
		ok := t.Run(fmt.Sprint(i), func(t *testing.T) { check(t, r, st, w) })
		if !ok {
			b, _ := json.Marshal(struct {
				S *State
				W *Workload
			}{st, w})
			t.Fatalf("seed %d case %d: %s", seed, i, b)
		}
	}
}

func randomCase(r *rand.Rand) (*State, *Workload) {
	jur := []string{"EU", "US", "CH"}
	st := &State{}
	for i := range 2 + r.IntN(12) {
		s := Site{Name: fmt.Sprintf("s%02d", i), Jurisdiction: jur[r.IntN(3)], Alive: r.IntN(5) > 0}
		st.Sites = append(st.Sites, s)
		for j := range 1 + r.IntN(3) {
			st.Clusters = append(st.Clusters, Cluster{Site: s.Name, Name: fmt.Sprintf("c%d", j), Jurisdiction: s.Jurisdiction,
				Healthy: r.IntN(6) > 0, Labels: map[string]string{"tier": fmt.Sprint(r.IntN(2))},
				Available: Resources{"cpu": int64(r.IntN(16000)), "pods": 110}})
		}
	}
	w := &Workload{Key: "shop/web", Replicas: r.IntN(40), Request: Resources{"cpu": 500}, Status: map[string]Observed{}}
	if r.IntN(3) == 0 {
		w.Bound = []string{jur[r.IntN(3)]}
	}
	switch r.IntN(4) {
	case 1:
		w.Policy.ReplicaScheduling = divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)
	case 2:
		w.Policy.ReplicaScheduling = divided(&WeightPreference{StaticWeightList: []StaticWeight{
			{TargetCluster: ClusterAffinity{ClusterNames: []string{"c0"}}, Weight: 3},
			{TargetCluster: ClusterAffinity{ClusterNames: []string{"c1", "c2"}}, Weight: 1}}}, Weighted)
	case 3:
		w.Policy.SpreadConstraints = []SpreadConstraint{{SpreadByField: "site", MaxGroups: 1 + r.IntN(4)}}
	}
	if r.IntN(4) == 0 {
		w.Policy.MaxSurge = fmt.Sprint(r.IntN(5))
	}
	for _, c := range st.Clusters {
		if r.IntN(2) == 0 {
			d := r.IntN(10)
			w.Status[c.Site+"/"+c.Name] = Observed{Desired: d, Ready: r.IntN(d + 1)}
		}
	}
	return st, w
}

func allAlive(st *State) *State {
	c := *st
	c.Sites = slices.Clone(st.Sites)
	for i := range c.Sites {
		c.Sites[i].Alive = true
	}
	return &c
}

func siteOf(st *State, name string) Site {
	i := slices.IndexFunc(st.Sites, func(s Site) bool { return s.Name == name })
	return st.Sites[i]
}

// The division sums to the desired replicas when every site is alive, nothing is held
// and a usable cluster exists; each site's clusters sum to its share.
func TestPropertySums(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		st = allAlive(st)
		w.Status = nil
		d := Divide(w, st)
		total := 0
		for _, s := range d.Sites {
			total += s.Replicas
			local := 0
			for _, c := range Local(w, s, st) {
				local += c.Replicas
			}
			if local != s.Replicas {
				t.Errorf("site %s: clusters sum to %d, share is %d", s.Name, local, s.Replicas)
			}
		}
		if usable := len(NewPlanner(st).eligible(w, true).at) > 0; usable && total != w.Replicas {
			t.Errorf("division sums to %d, want %d: %+v", total, w.Replicas, d)
		} else if !usable && total != 0 {
			t.Errorf("no usable cluster, yet %d replicas placed", total)
		}
	})
}

// Every site computes the same division from the same state.
func TestPropertyDeterministic(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		a, _ := json.Marshal(Divide(w, st))
		for range 3 {
			if b, _ := json.Marshal(Divide(w, st)); string(a) != string(b) {
				t.Fatalf("two divisions of one state:\n%s\n%s", a, b)
			}
		}
	})
}

// No replica is placed outside the bound, whatever the liveness and status.
func TestPropertyBound(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		for _, s := range Divide(w, st).Sites {
			if j := siteOf(st, s.Name).Jurisdiction; s.Replicas > 0 && len(w.Bound) > 0 && !slices.Contains(w.Bound, j) {
				t.Errorf("site %s in %s got %d replicas of a workload bound to %v", s.Name, j, s.Replicas, w.Bound)
			}
		}
	})
}

// More replicas never take one from a site (house monotonicity), and a site's death
// takes nothing from the survivors and moves exactly its share (when takeover is full).
func TestPropertyMinimalMoves(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		st = allAlive(st)
		w.Status, w.Policy.MaxSurge = nil, ""
		before := shares(Divide(w, st))
		w.Replicas += 1 + r.IntN(5)
		after := shares(Divide(w, st))
		for name, n := range before {
			if after[name] < n {
				t.Errorf("site %s: %d -> %d after adding replicas", name, n, after[name])
			}
		}
		victim := st.Sites[r.IntN(len(st.Sites))].Name
		dead := allAlive(st).kill(victim)
		got := shares(Divide(w, dead))
		moved := 0
		for _, site := range st.Sites {
			name, n := site.Name, after[site.Name]
			if name == victim {
				continue
			}
			if got[name] < n {
				t.Errorf("%s died and %s lost replicas: %d -> %d", victim, name, n, got[name])
			}
			moved += got[name] - n
		}
		live := len(NewPlanner(dead).eligible(w, true).at) > 0
		if live && moved != after[victim] {
			t.Errorf("%s died with %d replicas; %d moved", victim, after[victim], moved)
		}
	})
}

// Make-before-break: replicas ready now are kept until the ready total covers the desired.
func TestPropertyMakeBeforeBreak(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, st *State, w *Workload) {
		st = allAlive(st)
		if duplicated(w) {
			return
		}
		d := Divide(w, st)
		want := map[string]int{}
		for _, s := range d.Sites {
			want[s.Name] = s.Replicas
		}
		_, ready := observed(w)
		readyNow, kept := 0, 0
		usable := map[string]bool{}
		for _, i := range NewPlanner(st).eligible(w, true).at {
			usable[st.Clusters[i].Site] = true
		}
		for site, n := range ready {
			if !usable[site] {
				continue // its clusters are unusable: nothing there can be kept
			}
			readyNow += n
			kept += min(n, want[site])
		}
		if kept < min(readyNow, w.Replicas) {
			t.Errorf("ready %d, desired %d, but the division keeps only %d of the ready replicas: %+v", readyNow, w.Replicas, kept, d)
		}
	})
}

func shares(d Division) map[string]int {
	m := map[string]int{}
	for _, s := range d.Sites {
		m[s.Name] = s.Replicas
	}
	return m
}

// observed sums, per site, the replicas the workload runs and those ready.
func observed(w *Workload) (current, ready map[string]int) {
	current, ready = map[string]int{}, map[string]int{}
	for k, o := range w.Status {
		site, _, _ := strings.Cut(k, "/")
		current[site] += o.Desired
		ready[site] += o.Ready
	}
	return current, ready
}
