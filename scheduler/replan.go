package scheduler

import (
	"maps"
	"slices"
	"strings"
)

// Replanner plans a pass over all the workloads as a fresh Planner would, re-planning
// only what changed since its previous pass: a workload is divided again when its own
// inputs changed (replicas, bound, policy, request, status), when a site or cluster it
// depends on changed, or, for a workload whose placement reads the clock (application
// failover, tolerationSeconds), when State.Now moved. The rest keep their plans of the
// previous pass. The result is the same as a full pass (TestPropertyReplan).
//
// A workload depends on the clusters its placement selects under either state (any
// affinity term, liveness aside, including those a NoSchedule taint cordons), on the
// clusters and sites its status names, and on the sites of those clusters. A cluster
// changes when any of its fields or its site's fields change. When clusters or sites are
// added, removed or renamed, the pass is a full one.
//
// To find which workloads changed, a pass reads each workload's own inputs (a
// fingerprint), all 10,000 status maps of a large federation included, unless the
// caller says which did not change: a workload given with the Version it had in the
// previous pass is taken as unchanged without being read (Workload.Version).
//
// A Replanner is not safe for concurrent use. The states and workloads given to Plan
// must not be changed afterwards: the Replanner keeps the last ones.
type Replanner struct {
	self  string // the site whose shares are placed locally; "" for every site
	prev  *State
	p     *Planner // over prev
	last  map[string]*entry
	fp    *fingerprinter
	pass  uint64
	stats ReplanStats
}

// Plan is one workload's placement.
type Plan struct {
	Division Division
	// Local is, by site, the local placement of each share with replicas that the
	// Replanner places (Planner.Local): its own site's, or every site's.
	Local map[string][]Share
}

// ReplanStats count what the last pass did.
type ReplanStats struct {
	Workloads int
	Replanned int  // divided again; the others kept their plans
	Full      bool // every workload was divided again: the first pass, or sites or clusters were added or removed
}

// entry is what a Replanner keeps of one workload between passes.
type entry struct {
	fp    uint64
	ver   uint64 // the workload's Version
	cs    *clusterSet
	timed bool   // its placement reads State.Now
	deps  []int  // clusters (>= 0) and sites (-1-index) its status names
	sites uint64 // the siteBit of each of deps' sites
	plan  Plan
	seen  uint64 // the last pass that planned it
}

// NewReplanner returns a replanner that places locally the shares of the site named
// self, or of every site if self is "".
func NewReplanner(self string) *Replanner {
	return &Replanner{self: self, fp: newFingerprinter()}
}

// Stats returns what the last pass did.
func (r *Replanner) Stats() ReplanStats { return r.stats }

// Plan plans the workloads (their keys distinct) over the state, and returns their
// plans in order. Plans of workloads that did not change are those of the previous
// pass, shared: callers must not change them.
func (r *Replanner) Plan(st *State, ws []*Workload) []Plan {
	p := NewPlanner(st)
	d := r.diff(st, p)
	r.pass++
	if r.last == nil {
		r.last = make(map[string]*entry, len(ws))
	}
	out := make([]Plan, len(ws))
	r.stats = ReplanStats{Workloads: len(ws), Full: d == nil}
	for i, w := range ws {
		e := r.last[w.Key]
		var fp uint64
		if e != nil && w.Version != 0 && w.Version == e.ver {
			fp = e.fp // unchanged, as the caller says
		} else {
			fp = r.fp.of(w)
		}
		same := e != nil && d != nil && e.fp == fp // same workload, same sites and clusters
		if same && !d.affects(e) {
			e.cs = e.cs.next
			e.cs.used, e.seen = r.pass, r.pass
			out[i] = e.plan
			continue
		}
		var cs *clusterSet
		var deps []int
		var sites uint64
		if same {
			cs, deps, sites = e.cs.next, e.deps, e.sites // the same policy and status
		}
		if cs == nil {
			cs = p.set(w)
		}
		if deps == nil && !same {
			deps, sites = p.depsOf(w)
		}
		e = &entry{fp: fp, ver: w.Version, cs: cs, timed: w.application() != nil || cs.timed, deps: deps, sites: sites, seen: r.pass}
		cs.used = r.pass
		e.plan.Division = p.divide(w, cs)
		for _, s := range e.plan.Division.Sites {
			if s.Replicas > 0 && (r.self == "" || s.Name == r.self) {
				if e.plan.Local == nil {
					e.plan.Local = map[string][]Share{}
				}
				e.plan.Local[s.Name] = p.Local(w, s)
			}
		}
		r.last[w.Key], out[i] = e, e.plan
		r.stats.Replanned++
	}
	// Keep only the workloads and sets of this pass, so that they do not pile up.
	maps.DeleteFunc(r.last, func(_ string, e *entry) bool { return e.seen != r.pass })
	maps.DeleteFunc(p.sets, func(_ string, cs *clusterSet) bool { return cs.used != r.pass })
	r.prev, r.p = st, p
	return out
}

// depsOf returns the clusters and sites the workload's status names, each once, and the
// siteBit of each of their sites.
func (p *Planner) depsOf(w *Workload) (deps []int, sites uint64) {
	for k := range w.Status {
		if i, ok := p.keyAt[k]; ok {
			deps = append(deps, i)
			sites |= siteBit(p.siteOf[i])
		}
		site, _, _ := strings.Cut(k, "/")
		if j, ok := p.siteAt[site]; ok {
			deps = append(deps, -1-j)
			sites |= siteBit(j)
		}
	}
	slices.Sort(deps)
	return slices.Compact(deps), sites
}

// siteBit is site j's bit (j mod 64; 63 for -1, no site) in the filters that tell at a
// glance that none of some clusters and sites changed: a site's bit is set in each of
// them that holds the site or one of its clusters (entry.sites, clusterSet.sites,
// changes.sites).
func siteBit(j int) uint64 { return 1 << (uint(j) % 64) }

// addMember makes cluster i a member of the set (once in a term, or cordoned).
func (p *Planner) addMember(cs *clusterSet, i int) {
	cs.members[i/64] |= 1 << (i % 64)
	cs.sites |= siteBit(p.siteOf[i])
}

// changes are what changed between two states of the same sites and clusters.
type changes struct {
	now     bool   // State.Now
	cluster []bool // per cluster: any field, or its site's
	site    []bool // per site
	sites   uint64 // the siteBit of each changed site and of the site of each changed cluster
}

// affects reports whether the changes may change the plan of the workload.
func (d *changes) affects(e *entry) bool {
	if d.now && e.timed || e.cs.next == nil || e.cs.touched {
		return true
	}
	if d.sites&e.sites == 0 {
		return false
	}
	for _, k := range e.deps {
		if k >= 0 && d.cluster[k] || k < 0 && d.site[-1-k] {
			return true
		}
	}
	return false
}

// diff compares st with the previous state, and carries the previous planner's cluster
// sets over to p; nil when the pass must be a full one.
func (r *Replanner) diff(st *State, p *Planner) *changes {
	prev := r.prev
	if prev == nil || len(prev.Sites) != len(st.Sites) || len(prev.Clusters) != len(st.Clusters) {
		return nil
	}
	d := &changes{now: !prev.Now.Equal(st.Now), cluster: make([]bool, len(st.Clusters)), site: make([]bool, len(st.Sites))}
	for j := range st.Sites {
		a, b := &prev.Sites[j], &st.Sites[j]
		if a.Name != b.Name {
			return nil
		}
		if *a != *b {
			d.site[j] = true
			d.sites |= siteBit(j)
		}
	}
	// moved: the clusters whose membership in a set may have changed (all fields count
	// but liveness and capacity).
	var changed, moved []int
	for i := range st.Clusters {
		a, b := &prev.Clusters[i], &st.Clusters[i]
		if a.Site != b.Site || a.Name != b.Name {
			return nil
		}
		j := p.siteOf[i]
		sameSite := j < 0 || prev.Sites[j].Draining == st.Sites[j].Draining && prev.Sites[j].Jurisdiction == st.Sites[j].Jurisdiction
		same := sameCluster(a, b)
		if !same || !sameSite || j >= 0 && d.site[j] {
			d.cluster[i] = true
			d.sites |= siteBit(j)
			changed = append(changed, i)
		}
		if !same && !sameMembership(a, b) || !sameSite {
			moved = append(moved, i)
		}
	}
	// The new planner takes over the previous one's sets, as the new state makes them.
	p.sets = r.p.sets
	for key, cs := range p.sets {
		cs.next, cs.touched = nil, true
		if d.now && cs.timed {
			delete(p.sets, key) // made again when used
			continue
		}
		cs.next, cs.touched = p.carry(cs, changed, moved, d.sites)
		if cs.next != cs {
			p.sets[key] = cs.next
		}
	}
	return d
}

// sameCluster reports whether two versions of a cluster are alike in every field.
func sameCluster(a, b *Cluster) bool {
	return sameMembership(a, b) && maps.Equal(a.Available, b.Available)
}

// sameMembership reports whether two versions of a cluster are alike in every field a
// cluster set reads (all but the capacity).
func sameMembership(a, b *Cluster) bool {
	return a.Jurisdiction == b.Jurisdiction && a.Provider == b.Provider && a.Region == b.Region && a.Zone == b.Zone &&
		a.Healthy == b.Healthy && maps.Equal(a.Labels, b.Labels) &&
		slices.EqualFunc(a.Taints, b.Taints, func(x, y Taint) bool {
			return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect && x.Since.Equal(y.Since)
		})
}

// carry returns the set cs of the previous planner as p's state makes it, judging
// again only the moved clusters, and whether a changed cluster is a member of it under
// either state (sites: the siteBit of each changed cluster's site). An untouched set
// keeps its cached candidates.
func (p *Planner) carry(cs *clusterSet, changed, moved []int, sites uint64) (next *clusterSet, touched bool) {
	if cs.invalid != "" {
		return cs, false // selects nothing, whatever the state
	}
	if cs.sites&sites != 0 { // a member may be on a changed cluster's site
		for _, i := range changed {
			if cs.member(i) {
				touched = true
				break
			}
		}
	}
	if len(moved) == 0 {
		if !touched {
			return cs, false
		}
		next := *cs
		next.nominal, next.live, next.usable = nil, nil, nil
		return &next, true
	}
	next = &clusterSet{names: cs.names, invalid: cs.invalid, pol: cs.pol, bound: cs.bound, matchers: cs.matchers,
		weighers: cs.weighers, timed: cs.timed, terms: make([][]int, len(cs.terms)), members: slices.Clone(cs.members), sites: cs.sites}
	isMoved := func(i int) bool { _, ok := slices.BinarySearch(moved, i); return ok }
	for t := range cs.terms {
		next.terms[t] = slices.DeleteFunc(slices.Clone(cs.terms[t]), isMoved)
	}
	next.cordoned = slices.DeleteFunc(slices.Clone(cs.cordoned), isMoved)
	for _, i := range moved {
		next.members[i/64] &^= 1 << (i % 64)
		p.judgeIn(next, i, func(t int) {
			next.terms[t] = insertSorted(next.terms[t], i)
			p.addMember(next, i)
			touched = true // moved clusters are changed ones
		}, func() {
			next.cordoned = insertSorted(next.cordoned, i)
			p.addMember(next, i)
			touched = true
		})
	}
	if cs.static != nil {
		next.static = slices.Clone(cs.static)
		for _, i := range moved {
			next.static[i] = p.staticWeight(next, i)
		}
	}
	if !touched {
		next.nominal, next.live, next.usable = cs.nominal, cs.live, cs.usable
	}
	return next, touched
}

// member reports whether cluster i is in the set: in some term, or cordoned.
func (cs *clusterSet) member(i int) bool { return cs.members[i/64]&(1<<(i%64)) != 0 }

func insertSorted(xs []int, i int) []int {
	k, ok := slices.BinarySearch(xs, i)
	if ok {
		return xs
	}
	return slices.Insert(xs, k, i)
}
