package scheduler

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// replanFed is a random federation for the re-planning property: sites in three
// jurisdictions, each with clusters of two tiers in three zones, some with GPUs.
func replanFed(r *rand.Rand) *State {
	st := &State{Now: t0}
	jur := []string{"EU", "US", "CH"}
	for i := range 3 + r.IntN(6) {
		s := Site{Name: fmt.Sprintf("s%02d", i), Jurisdiction: jur[r.IntN(3)], Region: fmt.Sprintf("r%d", i%3), Alive: r.IntN(6) > 0}
		st.Sites = append(st.Sites, s)
		for j := range 1 + r.IntN(3) {
			st.Clusters = append(st.Clusters, randomCluster(r, s, fmt.Sprintf("c%d", j)))
		}
	}
	return st
}

func randomCluster(r *rand.Rand, s Site, name string) Cluster {
	c := Cluster{Site: s.Name, Name: name, Jurisdiction: s.Jurisdiction, Region: s.Region, Zone: fmt.Sprintf("z%d", r.IntN(3)),
		Healthy: r.IntN(6) > 0, Labels: map[string]string{"tier": fmt.Sprint(r.IntN(2))},
		Available: Resources{"cpu": int64(r.IntN(16000)), "pods": 110}}
	if r.IntN(3) == 0 {
		c.Available["nvidia.com/gpu"] = int64(r.IntN(3))
	}
	return c
}

// randomWorkload draws a workload of every kind of policy the scheduler reads.
func randomWorkload(r *rand.Rand, st *State, key string) *Workload {
	w := &Workload{Key: key, Replicas: r.IntN(30), Request: Resources{"cpu": 500}, Status: map[string]Observed{}}
	if r.IntN(4) == 0 {
		w.Bound = []string{[]string{"EU", "US", "CH"}[r.IntN(3)]}
	}
	pol := &w.Policy
	switch r.IntN(5) {
	case 1: // a few sites by field
		var names []string
		for range 1 + r.IntN(3) {
			names = append(names, st.Sites[r.IntN(len(st.Sites))].Name)
		}
		pol.ClusterAffinity = &ClusterAffinity{FieldSelector: &FieldSelector{MatchExpressions: []Requirement{{Key: "site", Operator: "In", Values: names}}}}
	case 2:
		pol.ClusterAffinity = &ClusterAffinity{LabelSelector: labelSel("tier", "1")}
	case 3: // fallback terms
		pol.ClusterAffinities = []ClusterAffinityTerm{
			{AffinityName: "primary", ClusterAffinity: ClusterAffinity{ClusterNames: []string{st.Clusters[r.IntN(len(st.Clusters))].Site + "/c0"}}},
			{AffinityName: "backup", ClusterAffinity: ClusterAffinity{LabelSelector: labelSel("tier", "0")}}}
	case 4:
		pol.ClusterAffinity = &ClusterAffinity{ExcludeClusters: []string{"c1"}}
	}
	switch r.IntN(7) {
	case 1:
		pol.ReplicaScheduling = divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)
	case 2:
		pol.ReplicaScheduling = divided(&WeightPreference{StaticWeightList: []StaticWeight{
			{TargetCluster: ClusterAffinity{LabelSelector: labelSel("tier", "0")}, Weight: 3},
			{TargetCluster: ClusterAffinity{ClusterNames: []string{"c1", "c2"}}, Weight: 1}}}, Weighted)
	case 3:
		pol.ReplicaScheduling = divided(nil, Aggregated)
	case 4:
		pol.ReplicaScheduling = &ReplicaScheduling{ReplicaSchedulingType: Duplicated}
	case 5:
		pol.SpreadConstraints = []SpreadConstraint{{SpreadByField: []string{"site", "zone", "cluster"}[r.IntN(3)], MaxGroups: 1 + r.IntN(3), MinGroups: r.IntN(3)}}
	}
	if r.IntN(4) == 0 {
		secs := int64(r.IntN(600))
		pol.ClusterTolerations = []Toleration{{Key: "maintenance", Operator: "Exists", TolerationSeconds: &secs}}
	}
	if r.IntN(5) == 0 {
		pol.ClusterTolerations = append(pol.ClusterTolerations, Toleration{Key: "gpu", Operator: "Exists"})
	}
	if r.IntN(5) == 0 {
		purge := []string{PurgeGracefully, PurgeDirectly, PurgeNever}[r.IntN(3)]
		pol.Failover = &Failover{Application: &ApplicationFailover{PurgeMode: purge}}
	}
	if r.IntN(5) == 0 {
		pol.MaxSurge = fmt.Sprint(r.IntN(5))
	}
	if r.IntN(8) == 0 {
		off := false
		pol.Takeover = &off
	}
	if r.IntN(6) == 0 {
		w.Request["nvidia.com/gpu"] = 1
	}
	if r.IntN(10) == 0 {
		w.Replicas = -1
	}
	for _, c := range st.Clusters {
		if r.IntN(3) == 0 {
			d := r.IntN(8)
			o := Observed{Desired: d, Ready: r.IntN(d + 1)}
			if r.IntN(6) == 0 {
				o.UnhealthySince = st.Now.Add(-time.Duration(r.IntN(900)) * time.Second)
			}
			if r.IntN(8) == 0 {
				o.EvictedAt = st.Now.Add(-time.Duration(r.IntN(900)) * time.Second)
			}
			w.Status[c.Site+"/"+c.Name] = o
		}
	}
	return w
}

// cloneState copies the state so that a step can change the copy: the previous one
// stays as the Replanner saw it.
func cloneState(st *State) *State {
	c := &State{Now: st.Now, Sites: slices.Clone(st.Sites), Clusters: slices.Clone(st.Clusters)}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		cl.Labels, cl.Taints, cl.Available = maps.Clone(cl.Labels), slices.Clone(cl.Taints), maps.Clone(cl.Available)
	}
	return c
}

// step changes the state or the workloads at random, as a pass may see: liveness,
// draining, health, taints, capacity, labels, the clock, clusters joining and leaving,
// workloads written, reported, added and deleted. It returns what it did.
func step(r *rand.Rand, st *State, ws []*Workload, n *int) (*State, []*Workload, string) {
	st, ws = cloneState(st), slices.Clone(ws)
	s := &st.Sites[r.IntN(len(st.Sites))]
	c := &st.Clusters[r.IntN(len(st.Clusters))]
	w := r.IntN(len(ws))
	switch k := r.IntN(14); k {
	case 0:
		s.Alive = !s.Alive
		return st, ws, "site " + s.Name + " alive " + fmt.Sprint(s.Alive)
	case 1:
		s.Draining = !s.Draining
		return st, ws, "site " + s.Name + " draining " + fmt.Sprint(s.Draining)
	case 2:
		c.Healthy = !c.Healthy
		return st, ws, "cluster " + c.Site + "/" + c.Name + " healthy " + fmt.Sprint(c.Healthy)
	case 3:
		if len(c.Taints) > 0 {
			c.Taints = nil
			return st, ws, "untaint " + c.Site + "/" + c.Name
		}
		c.Taints = []Taint{{Key: []string{"maintenance", "gpu"}[r.IntN(2)], Effect: []string{NoSchedule, NoExecute}[r.IntN(2)], Since: st.Now.Add(-time.Duration(r.IntN(600)) * time.Second)}}
		return st, ws, fmt.Sprintf("taint %s/%s %+v", c.Site, c.Name, c.Taints[0])
	case 4:
		c.Available["cpu"] = int64(r.IntN(16000))
		return st, ws, "capacity " + c.Site + "/" + c.Name
	case 5:
		c.Labels["tier"] = fmt.Sprint(r.IntN(2))
		c.Zone = fmt.Sprintf("z%d", r.IntN(3))
		return st, ws, "labels " + c.Site + "/" + c.Name
	case 6:
		st.Now = st.Now.Add(time.Duration(r.IntN(300)) * time.Second)
		return st, ws, "clock " + st.Now.Format(time.TimeOnly)
	case 7: // a cluster joins or leaves: the pass is a full one
		if r.IntN(2) == 0 && len(st.Clusters) > 1 {
			i := r.IntN(len(st.Clusters))
			name := st.Clusters[i].Site + "/" + st.Clusters[i].Name
			st.Clusters = slices.Delete(st.Clusters, i, i+1)
			return st, ws, "cluster " + name + " leaves"
		}
		name := fmt.Sprintf("n%d", *n)
		*n++
		i := slices.IndexFunc(st.Clusters, func(x Cluster) bool { return x.Site > s.Name })
		if i < 0 {
			i = len(st.Clusters)
		}
		st.Clusters = slices.Insert(st.Clusters, i, randomCluster(r, *s, name))
		return st, ws, "cluster " + s.Name + "/" + name + " joins"
	case 8: // a workload is written: a copy with new replicas
		v := *ws[w]
		v.Replicas = r.IntN(30)
		ws[w] = &v
		return st, ws, fmt.Sprintf("%s replicas %d", v.Key, v.Replicas)
	case 9: // a site reports
		v := *ws[w]
		v.Status = maps.Clone(v.Status)
		k := c.Site + "/" + c.Name
		d := r.IntN(8)
		v.Status[k] = Observed{Desired: d, Ready: r.IntN(d + 1)}
		ws[w] = &v
		return st, ws, "status " + v.Key + " at " + k
	case 10: // a policy is rewritten
		v := randomWorkload(r, st, ws[w].Key)
		v.Status = ws[w].Status
		ws[w] = v
		return st, ws, "policy " + v.Key
	case 11:
		key := fmt.Sprintf("ns/w%d", *n)
		*n++
		return st, append(ws, randomWorkload(r, st, key)), "add " + key
	case 12:
		if len(ws) > 1 {
			key := ws[w].Key
			return st, slices.Delete(ws, w, w+1), "delete " + key
		}
	}
	return st, ws, "nothing"
}

// fullPass plans as a fresh Planner does, for the shares a Replanner of self places.
func fullPass(st *State, ws []*Workload, self string) []Plan {
	p := NewPlanner(st)
	out := make([]Plan, len(ws))
	for i, w := range ws {
		out[i].Division = p.Divide(w)
		for _, s := range out[i].Division.Sites {
			if s.Replicas > 0 && (self == "" || s.Name == self) {
				if out[i].Local == nil {
					out[i].Local = map[string][]Share{}
				}
				out[i].Local[s.Name] = p.Local(w, s)
			}
		}
	}
	return out
}

// TestPropertyReplan: after every random change, re-planning what changed gives exactly
// what a full pass gives, and it re-plans less than everything. In half the cases the
// workloads have versions, a new one whenever a step changes a workload, as the site
// gives them.
func TestPropertyReplan(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./scheduler -run %s -seed %d)", seed, t.Name(), seed)
	r := rand.New(rand.NewPCG(seed, 0))
	cases, steps := max(*caseFlag/20, 10), 40
	replanned, total := 0, 0
	for i := range cases {
		st := replanFed(r)
		n := 0
		var ws []*Workload
		for j := range 5 + r.IntN(20) {
			ws = append(ws, randomWorkload(r, st, fmt.Sprintf("ns/w%d", j)))
			n = j + 1
		}
		self := ""
		if r.IntN(2) == 0 {
			self = st.Sites[r.IntN(len(st.Sites))].Name
		}
		versioned := r.IntN(2) == 0
		var version uint64
		var prev []*Workload
		rp := NewReplanner(self)
		var log []string
		for k := range steps {
			for _, w := range ws {
				if versioned && !slices.Contains(prev, w) { // step changes a workload by copying it
					version++
					w.Version = version
				}
			}
			prev = ws
			got, want := rp.Plan(st, ws), fullPass(st, ws, self)
			if !reflect.DeepEqual(got, want) {
				for j := range got {
					if !reflect.DeepEqual(got[j], want[j]) {
						g, _ := json.Marshal(got[j])
						w, _ := json.Marshal(want[j])
						t.Fatalf("seed %d case %d step %d (self %q, versioned %t) after %v:\n%s re-planned\n%s\n  full\n%s", seed, i, k, self, versioned, log, ws[j].Key, g, w)
					}
				}
			}
			if k > 0 && !rp.Stats().Full {
				replanned += rp.Stats().Replanned
				total += rp.Stats().Workloads
			}
			var what string
			st, ws, what = step(r, st, ws, &n)
			log = append(log, what)
		}
	}
	if replanned >= total {
		t.Errorf("incremental passes re-planned %d of %d workloads: nothing was reused", replanned, total)
	}
	t.Logf("incremental passes re-planned %d of %d workloads", replanned, total)
}

// The Replanner notices a change in any field of the state: a field added to State,
// Site or Cluster without being compared fails here, and would otherwise leave stale
// plans.
func TestReplanComparesEveryField(t *testing.T) {
	if n := reflect.TypeFor[State]().NumField(); n != 3 {
		t.Errorf("State has %d fields; Replanner.diff compares Sites, Clusters and Now", n)
	}
	if !reflect.TypeOf(Site{}).Comparable() {
		t.Errorf("Site is no longer comparable: Replanner.diff compares sites with ==")
	}
	shape := &Cluster{}
	fill(reflect.ValueOf(shape).Elem())
	n := 0
	leaves(reflect.ValueOf(shape).Elem(), "Cluster", func(path string, _ func()) {
		a, b := &Cluster{}, &Cluster{}
		fill(reflect.ValueOf(a).Elem())
		fill(reflect.ValueOf(b).Elem())
		if !sameCluster(a, b) {
			t.Fatalf("two equal clusters differ: %+v", a)
		}
		leaves(reflect.ValueOf(b).Elem(), "Cluster", func(p string, change func()) {
			if p == path {
				change()
			}
		})
		if path != "Cluster.Site" && path != "Cluster.Name" && sameCluster(a, b) {
			t.Errorf("changing %s leaves the cluster the same to the Replanner", path)
		}
		n++
	})
	if n < 10 {
		t.Errorf("only %d fields walked", n)
	}
}

// A Replanner takes a workload given with the Version it had in the previous pass as
// unchanged without reading it: given changed under its old Version (what the contract
// of Workload.Version forbids), it keeps its old plan; under a new Version, or 0, it is
// re-planned.
func TestReplanTrustsVersion(t *testing.T) {
	st := &State{Sites: []Site{{Name: "a", Alive: true}, {Name: "b", Alive: true}},
		Clusters: []Cluster{{Site: "a", Name: "c1", Healthy: true}, {Site: "b", Name: "c1", Healthy: true}}}
	w := &Workload{Key: "ns/web", Replicas: 4, Version: 7}
	rp := NewReplanner("")
	if got := rp.Plan(st, []*Workload{w})[0].Division.Sites; len(got) != 2 || got[0].Replicas != 2 {
		t.Fatalf("first pass: %+v", got)
	}
	changed := *w
	changed.Replicas = 6
	if got := rp.Plan(st, []*Workload{&changed})[0].Division.Sites; got[0].Replicas != 2 || rp.Stats().Replanned != 0 {
		t.Errorf("changed under its old version: %+v, %d re-planned; want the old plan kept", got, rp.Stats().Replanned)
	}
	for _, v := range []uint64{8, 0} {
		changed.Version = v
		if got := rp.Plan(st, []*Workload{&changed})[0].Division.Sites; got[0].Replicas != 3 {
			t.Errorf("changed under version %d: %+v, want 3 replicas a site", v, got)
		}
	}
}
