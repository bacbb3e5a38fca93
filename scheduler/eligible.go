package scheduler

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// candidates are the clusters a workload may run in under one view of availability, with
// their weights, and why the set may be short of the policy.
type candidates struct {
	term     string     // the affinity term used ("" for a single clusterAffinity)
	clusters []*Cluster // sorted by site, then name
	weights  []int64    // per cluster
	notes    []string
}

// site returns the candidate clusters' total weight per site, over the sorted site names.
func (c *candidates) sites() (names []string, weights []int64) {
	for i, cl := range c.clusters {
		if n := len(names); n == 0 || names[n-1] != cl.Site {
			names, weights = append(names, cl.Site), append(weights, 0)
		}
		weights[len(weights)-1] = addSat(weights[len(weights)-1], c.weights[i])
	}
	return names, weights
}

// Planner divides and places workloads over one state. It caches, per distinct
// placement and bound, which clusters each affinity term selects and their static
// weights, so that a pass over many workloads sharing few policies stays cheap.
type Planner struct {
	st        *State
	alive     []bool   // per cluster: its site is alive to the viewer
	keys      []string // per cluster: "<site>/<cluster>"
	siteAlive map[string]bool
	sets      map[string]*clusterSet
	lastKey   string     // the workload of the last Divide
	lastCands candidates // and its usable clusters, for Local
	lastKeeps []kept     // and what clusters keep without being placed, for Local
}

// clusterSet is what a placement and bound select, liveness aside.
type clusterSet struct {
	terms   [][]int // per affinity term: indexes into State.Clusters, in order
	names   []string
	static  []int64 // per cluster: static weight (nil without a static weight list)
	invalid string  // why the placement cannot be used, if it cannot
	// cordoned are the clusters the placement would use but for a NoSchedule taint it
	// does not tolerate: they keep what they run (cordon.go).
	cordoned []int
}

// NewPlanner returns a planner over the state, which it does not copy: the state must not
// change while the planner is in use.
func NewPlanner(st *State) *Planner {
	p := &Planner{st: st, alive: make([]bool, len(st.Clusters)), keys: make([]string, len(st.Clusters)), sets: map[string]*clusterSet{}}
	alive := map[string]bool{}
	for _, s := range st.Sites {
		alive[s.Name] = s.Alive
	}
	p.siteAlive = alive
	for i, c := range st.Clusters {
		p.alive[i] = alive[c.Site]
		p.keys[i] = c.Site + "/" + c.Name
	}
	return p
}

// Divide is Planner.Divide over a fresh planner.
func Divide(w *Workload, st *State) Division { return NewPlanner(st).Divide(w) }

// Local is Planner.Local over a fresh planner.
func Local(w *Workload, share Share, st *State) []Share { return NewPlanner(st).Local(w, share) }

func (p *Planner) set(w *Workload) *clusterSet {
	key, _ := json.Marshal(struct {
		P Placement
		B []string
	}{w.Policy.Placement, w.Bound})
	if cs := p.sets[string(key)]; cs != nil {
		return cs
	}
	cs := &clusterSet{}
	p.sets[string(key)] = cs
	pol := &w.Policy
	placeable := map[string]bool{} // inside the bound and not draining
	for _, s := range p.st.Sites {
		placeable[s.Name] = !s.Draining && (len(w.Bound) == 0 || slices.Contains(w.Bound, s.Jurisdiction))
	}
	terms := pol.ClusterAffinities
	if len(terms) == 0 {
		var a ClusterAffinity
		if pol.ClusterAffinity != nil {
			a = *pol.ClusterAffinity
		}
		terms = []ClusterAffinityTerm{{ClusterAffinity: a}}
	}
	matchers := make([]matcher, len(terms))
	for i, t := range terms {
		m, err := compile(&t.ClusterAffinity)
		if err != nil {
			cs.invalid = fmt.Sprintf("affinity %q: %v", t.AffinityName, err)
			return cs
		}
		matchers[i] = m
		cs.names = append(cs.names, t.AffinityName)
	}
	cs.terms = make([][]int, len(terms))
	for i := range p.st.Clusters {
		c := &p.st.Clusters[i]
		if !placeable[c.Site] || !c.Healthy {
			continue
		}
		v := judge(pol.ClusterTolerations, c, p.st.Now)
		for t, m := range matchers {
			if !m.matches(c) {
				continue
			}
			if v == tolerated {
				cs.terms[t] = append(cs.terms[t], i)
			} else if v == cordoned && !slices.Contains(cs.cordoned, i) {
				cs.cordoned = append(cs.cordoned, i)
			}
		}
	}
	if rs := pol.ReplicaScheduling; rs != nil && rs.WeightPreference != nil && len(rs.WeightPreference.StaticWeightList) > 0 {
		cs.static = make([]int64, len(p.st.Clusters))
		for _, sw := range rs.WeightPreference.StaticWeightList {
			m, err := compile(&sw.TargetCluster)
			if err != nil {
				cs.invalid = fmt.Sprintf("static weight: %v", err)
				return cs
			}
			for i := range p.st.Clusters {
				if cs.static[i] == 0 && m.matches(&p.st.Clusters[i]) {
					cs.static[i] = sw.Weight
				}
			}
		}
	}
	return cs
}

// eligible returns the clusters the workload may run in: inside its bound, on a site that
// is not draining, tolerated, selected by the first affinity term that has a usable
// cluster, healthy, not evicted (application failover), with the free extended resources
// of one replica (fits), on a site that is alive when live is set, and within the spread
// constraints.
func (p *Planner) eligible(w *Workload, live bool) candidates {
	cs := p.set(w)
	var out candidates
	if cs.invalid != "" {
		out.notes = append(out.notes, cs.invalid)
		return out
	}
	how := weightingOf(w, cs)
	ext := extendedRequests(w)
	evictions := w.application() != nil && !p.st.Now.IsZero()
	unfit := false
	for t, idx := range cs.terms {
		out = candidates{term: cs.names[t], clusters: make([]*Cluster, 0, len(idx)), weights: make([]int64, 0, len(idx))}
		for _, i := range idx {
			if live && !p.alive[i] {
				continue
			}
			if evictions && w.Evicted(w.Status[p.keys[i]], p.st.Now) {
				continue
			}
			if len(ext) > 0 && !fits(w, ext, &p.st.Clusters[i], p.keys[i]) {
				unfit = true
				continue
			}
			out.clusters = append(out.clusters, &p.st.Clusters[i])
			out.weights = append(out.weights, p.weight(w, how, i, cs))
		}
		if len(out.clusters) > 0 {
			break
		}
	}
	for _, sc := range w.Policy.SpreadConstraints {
		out.spread(sc)
	}
	if rs := w.Policy.ReplicaScheduling; rs != nil && rs.ReplicaDivisionPreference == Aggregated && w.Replicas > 0 {
		out.aggregate(w.Replicas)
	}
	if len(out.clusters) == 0 {
		switch {
		case unfit:
			out.notes = append(out.notes, unfitNote(w, ext))
		case len(w.Bound) > 0:
			out.notes = append(out.notes, fmt.Sprintf("no usable cluster inside the bound %s", strings.Join(w.Bound, ",")))
		default:
			out.notes = append(out.notes, "no usable cluster matches the placement")
		}
	}
	return out
}

// usable returns the candidates under the viewer's liveness, given those as if all sites
// were alive. Without spread constraints or aggregation (which choose among the set), and
// when some nominal candidate is alive, they are the nominal ones on live sites: no
// earlier affinity term has any usable cluster, so the same term is chosen.
func (p *Planner) usable(w *Workload, nominal candidates) candidates {
	rs := w.Policy.ReplicaScheduling
	if len(w.Policy.SpreadConstraints) > 0 || rs != nil && rs.ReplicaDivisionPreference == Aggregated {
		return p.eligible(w, true)
	}
	dead := 0
	for _, cl := range nominal.clusters {
		if !p.siteAlive[cl.Site] {
			dead++
		}
	}
	if dead == 0 {
		return nominal
	}
	if dead == len(nominal.clusters) {
		return p.eligible(w, true)
	}
	out := candidates{term: nominal.term, clusters: make([]*Cluster, 0, len(nominal.clusters)-dead), weights: make([]int64, 0, len(nominal.clusters)-dead)}
	for i, cl := range nominal.clusters {
		if p.siteAlive[cl.Site] {
			out.clusters, out.weights = append(out.clusters, cl), append(out.weights, nominal.weights[i])
		}
	}
	return out
}

// weighting is how a workload weighs clusters.
type weighting int

const (
	equal     weighting = iota // 1 each
	static                     // the static weight list
	available                  // available replicas (dynamic weights, aggregation)
)

func weightingOf(w *Workload, cs *clusterSet) weighting {
	rs := w.Policy.ReplicaScheduling
	switch {
	case rs == nil || rs.ReplicaSchedulingType == Duplicated:
		return equal
	case rs.ReplicaDivisionPreference == Aggregated || rs.WeightPreference != nil && rs.WeightPreference.DynamicWeight == AvailableReplicas:
		return available
	case cs.static != nil:
		return static
	}
	return equal
}

// weight is cluster i's weight.
func (p *Planner) weight(w *Workload, how weighting, i int, cs *clusterSet) int64 {
	switch how {
	case available:
		return availableReplicas(w, &p.st.Clusters[i], p.keys[i])
	case static:
		return cs.static[i]
	}
	return 1
}

// availableReplicas is how many more replicas of the workload fit in the cluster, plus
// those it already runs there, so that a workload's own pods do not push it away.
func availableReplicas(w *Workload, c *Cluster, key string) int64 {
	n := int64(-1)
	for r, req := range w.Request {
		if req <= 0 {
			continue
		}
		if fit := c.Available[r] / req; n < 0 || fit < n {
			n = fit
		}
	}
	if pods, ok := c.Available["pods"]; ok && (n < 0 || pods < n) {
		n = pods
	}
	n = max(n, 0)
	return addSat(n, int64(w.Status[key].Desired))
}

// spread keeps at most MaxGroups groups, the heaviest first (ties by group name), and
// notes when fewer than MinGroups are left.
func (c *candidates) spread(sc SpreadConstraint) {
	by := sc.SpreadByField
	if by == "" {
		by = "label " + sc.SpreadByLabel
	}
	group := func(cl *Cluster) string {
		switch sc.SpreadByField {
		case "site":
			return cl.Site
		case "cluster":
			return cl.Site + "/" + cl.Name
		case "":
			return cl.Labels[sc.SpreadByLabel]
		}
		v, _ := cl.Field(sc.SpreadByField)
		return v
	}
	total := map[string]int64{}
	for i, cl := range c.clusters {
		total[group(cl)] = addSat(total[group(cl)], c.weights[i])
	}
	groups := slices.SortedFunc(maps.Keys(total), func(a, b string) int {
		if x := cmp.Compare(total[b], total[a]); x != 0 {
			return x
		}
		return strings.Compare(a, b)
	})
	if sc.MaxGroups > 0 && len(groups) > sc.MaxGroups {
		keep := map[string]bool{}
		for _, g := range groups[:sc.MaxGroups] {
			keep[g] = true
		}
		var cls []*Cluster
		var ws []int64
		for i, cl := range c.clusters {
			if keep[group(cl)] {
				cls, ws = append(cls, cl), append(ws, c.weights[i])
			}
		}
		c.clusters, c.weights, groups = cls, ws, groups[:sc.MaxGroups]
	}
	if len(groups) < sc.MinGroups {
		c.notes = append(c.notes, fmt.Sprintf("spread by %s: %d groups usable, the policy wants at least %d", by, len(groups), sc.MinGroups))
	}
}

// aggregate keeps the fewest clusters, largest first (ties by site and name), whose
// available replicas hold the workload; all of them if none suffice.
func (c *candidates) aggregate(replicas int) {
	order := make([]int, len(c.clusters))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(c.weights[b], c.weights[a]) })
	var sum int64
	n := 0
	for n < len(order) && sum < int64(replicas) {
		sum = addSat(sum, c.weights[order[n]])
		n++
	}
	keep := order[:n]
	slices.Sort(keep)
	cls, ws := make([]*Cluster, len(keep)), make([]int64, len(keep))
	for i, j := range keep {
		cls[i], ws[i] = c.clusters[j], c.weights[j]
	}
	c.clusters, c.weights = cls, ws
}
