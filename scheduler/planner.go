package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Planner divides and places workloads over one state. It indexes the state once (each
// cluster's site, key and liveness; each site's clusters), and caches, per distinct
// placement and bound, which clusters each affinity term selects, their static weights,
// and the candidates of the workloads whose candidates depend on the policy alone, so
// that a pass over many workloads sharing few policies stays cheap.
type Planner struct {
	st     *State
	alive  []bool   // per cluster: its site is alive to the viewer
	keys   []string // per cluster: "<site>/<cluster>"
	siteOf []int    // per cluster: index into State.Sites, -1 for a site not in it
	span   [][2]int // per site: its clusters, State.Clusters[lo:hi]
	siteAt map[string]int
	keyAt  map[string]int
	sets   map[string]*clusterSet
	// avail is, per request (requestKey), how many replicas fit in each cluster before
	// counting those it runs (dynamic weights).
	avail     map[string][]int64
	scratch   []int64     // per cluster, zero between uses (mark)
	cur, rdy  []int       // per site, zero between uses (observe)
	heap      seatHeap    // webster's, its items reused
	lastKey   string      // the workload of the last Divide
	lastCands *candidates // and its usable clusters, for Local
	lastKeeps []kept      // and what clusters keep without being placed, for Local
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
	members  []uint64 // bit i: cluster i is in a term or cordoned
	// sites has the siteBit of every member's site (and maybe of others): what a changed
	// cluster must have for the set to hold it (Replanner).
	sites uint64
	// nominal and live are the candidates of workloads whose candidates depend on the
	// placement alone (policyOnly), as if every site were alive and under the viewer's
	// liveness; nil until first needed.
	nominal, live *candidates
	usable        *candidates // live derived from nominal (Planner.usable)

	// What the set was made from, to judge one cluster again (Replanner): the workload's
	// policy (a shallow copy: what it points to must not change) and bound, and the
	// compiled affinities.
	pol      *Policy
	bound    []string
	matchers []matcher // per term
	weighers []matcher // per static weight
	// timed: a toleration has tolerationSeconds, so that the set depends on State.Now.
	timed bool
	// Between two passes of a Replanner: the set as the new state makes it (nil if it
	// is made again), whether a changed cluster is a member of it under either state,
	// and the last pass that used it.
	next    *clusterSet
	touched bool
	used    uint64
}

// NewPlanner returns a planner over the state, which it does not copy: the state must not
// change while the planner is in use.
func NewPlanner(st *State) *Planner {
	n := len(st.Clusters)
	p := &Planner{st: st, alive: make([]bool, n), keys: make([]string, n), siteOf: make([]int, n),
		span: make([][2]int, len(st.Sites)), siteAt: make(map[string]int, len(st.Sites)), keyAt: make(map[string]int, n),
		sets: map[string]*clusterSet{}, avail: map[string][]int64{}, scratch: make([]int64, n),
		cur: make([]int, len(st.Sites)), rdy: make([]int, len(st.Sites))}
	for i, s := range st.Sites {
		p.siteAt[s.Name] = i
		lo, _ := slices.BinarySearchFunc(st.Clusters, s.Name, func(c Cluster, n string) int { return strings.Compare(c.Site, n) })
		hi := lo
		for hi < n && st.Clusters[hi].Site == s.Name {
			hi++
		}
		p.span[i] = [2]int{lo, hi}
	}
	for i, c := range st.Clusters {
		j, ok := p.siteAt[c.Site]
		if !ok {
			j = -1
		}
		p.siteOf[i] = j
		p.alive[i] = ok && st.Sites[j].Alive
		p.keys[i] = c.Site + "/" + c.Name
		p.keyAt[p.keys[i]] = i
	}
	return p
}

// Divide is Planner.Divide over a fresh planner.
func Divide(w *Workload, st *State) Division { return NewPlanner(st).Divide(w) }

// Local is Planner.Local over a fresh planner.
func Local(w *Workload, share Share, st *State) []Share { return NewPlanner(st).Local(w, share) }

// siteAlive reports whether the site is in the state and alive to the viewer.
func (p *Planner) siteAlive(site string) bool {
	j, ok := p.siteAt[site]
	return ok && p.st.Sites[j].Alive
}

// setKey is what a workload's clusterSet depends on.
func setKey(w *Workload) string {
	key, _ := json.Marshal(struct {
		P Placement
		B []string
	}{w.Policy.Placement, w.Bound})
	return string(key)
}

func (p *Planner) set(w *Workload) *clusterSet {
	key := setKey(w)
	if cs := p.sets[key]; cs != nil {
		return cs
	}
	pol := w.Policy // a copy: the set does not keep the workload
	cs := p.newSet(&pol, w.Bound)
	p.sets[key] = cs
	return cs
}

func (p *Planner) newSet(pol *Policy, bound []string) *clusterSet {
	cs := &clusterSet{pol: pol, bound: bound}
	for _, t := range pol.ClusterTolerations {
		cs.timed = cs.timed || t.TolerationSeconds != nil
	}
	terms := pol.ClusterAffinities
	if len(terms) == 0 {
		var a ClusterAffinity
		if pol.ClusterAffinity != nil {
			a = *pol.ClusterAffinity
		}
		terms = []ClusterAffinityTerm{{ClusterAffinity: a}}
	}
	for _, t := range terms {
		m, err := compile(&t.ClusterAffinity)
		if err != nil {
			cs.invalid = fmt.Sprintf("affinity %q: %v", t.AffinityName, err)
			return cs
		}
		cs.matchers = append(cs.matchers, m)
		cs.names = append(cs.names, t.AffinityName)
	}
	cs.terms = make([][]int, len(terms))
	cs.members = make([]uint64, (len(p.st.Clusters)+63)/64)
	for i := range p.st.Clusters {
		p.judgeIn(cs, i, func(t int) {
			cs.terms[t] = append(cs.terms[t], i)
			p.addMember(cs, i)
		}, func() {
			cs.cordoned = append(cs.cordoned, i)
			p.addMember(cs, i)
		})
	}
	if rs := pol.ReplicaScheduling; rs != nil && rs.WeightPreference != nil && len(rs.WeightPreference.StaticWeightList) > 0 {
		for _, sw := range rs.WeightPreference.StaticWeightList {
			m, err := compile(&sw.TargetCluster)
			if err != nil {
				cs.invalid = fmt.Sprintf("static weight: %v", err)
				return cs
			}
			cs.weighers = append(cs.weighers, m)
		}
		cs.static = make([]int64, len(p.st.Clusters))
		for i := range p.st.Clusters {
			cs.static[i] = p.staticWeight(cs, i)
		}
	}
	return cs
}

// judgeIn calls in for each affinity term that places cluster i, or cordon once if the
// placement would use it but for a NoSchedule taint: inside the bound, on a site that is
// not draining, healthy, tolerated and selected.
func (p *Planner) judgeIn(cs *clusterSet, i int, in func(term int), cordon func()) {
	c := &p.st.Clusters[i]
	j := p.siteOf[i]
	if j < 0 || !c.Healthy {
		return
	}
	if s := &p.st.Sites[j]; s.Draining || len(cs.bound) > 0 && !slices.Contains(cs.bound, s.Jurisdiction) {
		return
	}
	v := judge(cs.pol.ClusterTolerations, c, p.st.Now)
	if v == evicting {
		return
	}
	for t, m := range cs.matchers {
		if !m.matches(c) {
			continue
		}
		if v == tolerated {
			in(t)
		} else {
			cordon()
			return
		}
	}
}

// staticWeight is cluster i's weight by the first static weight that selects it.
func (p *Planner) staticWeight(cs *clusterSet, i int) int64 {
	ws := cs.pol.ReplicaScheduling.WeightPreference.StaticWeightList
	for k, m := range cs.weighers {
		if ws[k].Weight != 0 && m.matches(&p.st.Clusters[i]) {
			return ws[k].Weight
		}
	}
	return 0
}

// requestKey names a request for the avail cache: its positive amounts in name order.
func requestKey(w *Workload) string {
	var b []byte
	for _, r := range sortedKeys(w.Request) {
		if n := w.Request[r]; n > 0 {
			b = strconv.AppendInt(append(append(b, r...), '='), n, 10)
			b = append(b, ';')
		}
	}
	return string(b)
}

func sortedKeys(m Resources) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// fitting returns, per cluster, how many replicas of the workload's request fit in it,
// not counting those it runs there.
func (p *Planner) fitting(w *Workload) []int64 {
	key := requestKey(w)
	if f, ok := p.avail[key]; ok {
		return f
	}
	f := make([]int64, len(p.st.Clusters))
	for i := range p.st.Clusters {
		f[i] = fitIn(w, &p.st.Clusters[i])
	}
	p.avail[key] = f
	return f
}

// fitIn is how many more replicas of the workload fit in the cluster.
func fitIn(w *Workload, c *Cluster) int64 {
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
	return max(n, 0)
}
