package scheduler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// candidates are the clusters a workload may run in under one view of availability, with
// their weights, and why the set may be short of the policy. A Planner may share one
// candidates between workloads: it is not changed once made.
type candidates struct {
	term    string  // the affinity term used ("" for a single clusterAffinity)
	at      []int   // indexes into State.Clusters, in order (by site, then name)
	weights []int64 // per cluster
	notes   []string
	// Per site with a candidate, in site order: its index into State.Sites, its clusters'
	// total weight, and where its clusters start in at.
	sites []int
	siteW []int64
	from  []int
}

// group fills the per-site fields from at and weights.
func (p *Planner) group(c *candidates) *candidates {
	c.sites, c.siteW, c.from = nil, nil, nil
	for k, i := range c.at {
		j := p.siteOf[i]
		if n := len(c.sites); n == 0 || c.sites[n-1] != j {
			c.sites, c.siteW, c.from = append(c.sites, j), append(c.siteW, 0), append(c.from, k)
		}
		n := len(c.siteW) - 1
		c.siteW[n] = addSat(c.siteW[n], c.weights[k])
	}
	return c
}

// of returns the range of at holding site j's candidates (empty if it has none).
func (c *candidates) of(j int) (lo, hi int) {
	k, ok := slices.BinarySearch(c.sites, j)
	if !ok {
		return 0, 0
	}
	hi = len(c.at)
	if k+1 < len(c.from) {
		hi = c.from[k+1]
	}
	return c.from[k], hi
}

// has reports whether site j has a candidate.
func (c *candidates) has(j int) bool {
	_, ok := slices.BinarySearch(c.sites, j)
	return ok
}

// eligible returns the clusters the workload may run in: inside its bound, on a site that
// is not draining, tolerated, selected by the first affinity term that has a usable
// cluster, healthy, not evicted (application failover), with the free extended resources
// of one replica (fits), on a site that is alive when live is set, and within the spread
// constraints.
func (p *Planner) eligible(w *Workload, live bool) *candidates {
	return p.eligibleIn(w, p.set(w), live)
}

// eligibleIn is eligible for a workload whose clusterSet is cs.
func (p *Planner) eligibleIn(w *Workload, cs *clusterSet, live bool) *candidates {
	if cs.invalid != "" {
		return &candidates{notes: []string{cs.invalid}}
	}
	ext := extendedRequests(w)
	evictions := w.application() != nil && !p.st.Now.IsZero()
	how := weightingOf(w, cs)
	// Without extended resources, evictions or weights from capacity and status, the
	// candidates depend on the placement alone: computed once per clusterSet.
	shared := len(ext) == 0 && !evictions && how != available
	if shared && live && cs.live != nil {
		return cs.live
	}
	if shared && !live && cs.nominal != nil {
		return cs.nominal
	}
	var fit []int64
	if how == available {
		fit = p.fitting(w)
		p.mark(w)
		defer p.unmark(w)
	}
	unfit := false
	out := &candidates{}
	for t, idx := range cs.terms {
		out = &candidates{term: cs.names[t], at: make([]int, 0, len(idx)), weights: make([]int64, 0, len(idx))}
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
			out.at = append(out.at, i)
			out.weights = append(out.weights, p.weight(how, i, cs, fit))
		}
		if len(out.at) > 0 {
			break
		}
	}
	for _, sc := range w.Policy.SpreadConstraints {
		p.spread(out, sc)
	}
	if rs := w.Policy.ReplicaScheduling; rs != nil && rs.ReplicaDivisionPreference == Aggregated && w.Replicas > 0 {
		out.aggregate(w.Replicas)
	}
	if len(out.at) == 0 {
		switch {
		case unfit:
			out.notes = append(out.notes, unfitNote(w, ext))
		case len(w.Bound) > 0:
			out.notes = append(out.notes, fmt.Sprintf("no usable cluster inside the bound %s", strings.Join(w.Bound, ",")))
		default:
			out.notes = append(out.notes, "no usable cluster matches the placement")
		}
	}
	p.group(out)
	if shared && live {
		cs.live = out
	} else if shared {
		cs.nominal = out
	}
	return out
}

// usable returns the candidates under the viewer's liveness, given those as if all sites
// were alive. Without spread constraints or aggregation (which choose among the set), and
// when some nominal candidate is alive, they are the nominal ones on live sites: no
// earlier affinity term has any usable cluster, so the same term is chosen.
func (p *Planner) usable(w *Workload, cs *clusterSet, nominal *candidates) *candidates {
	rs := w.Policy.ReplicaScheduling
	if len(w.Policy.SpreadConstraints) > 0 || rs != nil && rs.ReplicaDivisionPreference == Aggregated {
		return p.eligibleIn(w, cs, true)
	}
	if nominal == cs.nominal && cs.usable != nil {
		return cs.usable
	}
	dead := 0
	for _, i := range nominal.at {
		if !p.alive[i] {
			dead++
		}
	}
	if dead == 0 {
		return nominal
	}
	if dead == len(nominal.at) {
		return p.eligibleIn(w, cs, true)
	}
	out := &candidates{term: nominal.term, at: make([]int, 0, len(nominal.at)-dead), weights: make([]int64, 0, len(nominal.at)-dead)}
	for k, i := range nominal.at {
		if p.alive[i] {
			out.at, out.weights = append(out.at, i), append(out.weights, nominal.weights[k])
		}
	}
	p.group(out)
	if nominal == cs.nominal {
		cs.usable = out
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

// weight is cluster i's weight. With available, fit is the planner's fitting of the
// workload and the workload is marked.
func (p *Planner) weight(how weighting, i int, cs *clusterSet, fit []int64) int64 {
	switch how {
	case available:
		// available replicas: how many more fit, plus those it already runs there, so
		// that a workload's own pods do not push it away.
		return addSat(fit[i], p.scratch[i])
	case static:
		return cs.static[i]
	}
	return 1
}

// mark sets the scratch of each cluster to the replicas the workload runs there; unmark
// clears it.
func (p *Planner) mark(w *Workload) {
	for k, o := range w.Status {
		if i, ok := p.keyAt[k]; ok {
			p.scratch[i] = int64(o.Desired)
		}
	}
}

func (p *Planner) unmark(w *Workload) {
	for k := range w.Status {
		if i, ok := p.keyAt[k]; ok {
			p.scratch[i] = 0
		}
	}
}

// spread keeps at most MaxGroups groups, the heaviest first (ties by group name), and
// notes when fewer than MinGroups are left.
func (p *Planner) spread(c *candidates, sc SpreadConstraint) {
	by := sc.SpreadByField
	if by == "" {
		by = "label " + sc.SpreadByLabel
	}
	group := func(i int) string {
		cl := &p.st.Clusters[i]
		switch sc.SpreadByField {
		case "site":
			return cl.Site
		case "cluster":
			return p.keys[i]
		case "":
			return cl.Labels[sc.SpreadByLabel]
		}
		v, _ := cl.Field(sc.SpreadByField)
		return v
	}
	total := map[string]int64{}
	for k, i := range c.at {
		g := group(i)
		total[g] = addSat(total[g], c.weights[k])
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
		var at []int
		var ws []int64
		for k, i := range c.at {
			if keep[group(i)] {
				at, ws = append(at, i), append(ws, c.weights[k])
			}
		}
		c.at, c.weights, groups = at, ws, groups[:sc.MaxGroups]
	}
	if len(groups) < sc.MinGroups {
		c.notes = append(c.notes, fmt.Sprintf("spread by %s: %d groups usable, the policy wants at least %d", by, len(groups), sc.MinGroups))
	}
}

// aggregate keeps the fewest clusters, largest first (ties by site and name), whose
// available replicas hold the workload; all of them if none suffice.
func (c *candidates) aggregate(replicas int) {
	order := make([]int, len(c.at))
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
	at, ws := make([]int, len(keep)), make([]int64, len(keep))
	for i, j := range keep {
		at[i], ws[i] = c.at[j], c.weights[j]
	}
	c.at, c.weights = at, ws
}
