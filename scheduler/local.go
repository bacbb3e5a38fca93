package scheduler

import (
	"slices"
	"strings"
)

// Local places one site's share of a workload across its own clusters: the second level.
// Duplicated: every usable cluster runs all the replicas. Divided: Webster's method over
// the usable clusters' weights, ties going to where replicas already run. In both, a
// cluster running more than its target keeps the surplus until the others are ready, so a
// recovered cluster fills before another drains. A share held only for failback stays
// where it runs. It is quickest right after the Divide of the same workload.
//
// A cluster of the site that runs the workload and is no longer a candidate (a NoExecute
// taint, an eviction with purgeMode Gracefully, another affinity) keeps it the same way,
// until the others are ready; one that keeps replicas without being placed (cordon.go)
// keeps them.
func (p *Planner) Local(w *Workload, share Share) []Share {
	site := share.Name
	all, ks := p.lastCands, p.lastKeeps
	if p.lastKey != w.Key || all == nil {
		cs := p.set(w)
		ks = p.keeps(w, cs)
		all = p.eligibleIn(p.without(w, ks), cs, true)
	}
	kept, taken := p.localKeeps(w, site, ks)
	if len(kept) > 0 || len(ks) > 0 {
		w = p.without(w, ks)
		share.Replicas = max(share.Replicas-taken, 0)
	}
	j, known := p.siteAt[site]
	if len(kept) > 0 && duplicated(w) && share.Hold == 0 && !(known && all.has(j)) {
		return kept // the share is the kept clusters': nothing else of the site runs it
	}
	out := p.local(w, site, share, all)
	if len(kept) > 0 {
		out = sortShares(append(out, kept...))
	}
	return out
}

// clustersOf returns the range of State.Clusters holding the site's clusters.
func (p *Planner) clustersOf(site string) (lo, hi int) {
	if j, ok := p.siteAt[site]; ok {
		return p.span[j][0], p.span[j][1]
	}
	cl := p.st.Clusters
	lo, _ = slices.BinarySearchFunc(cl, site, func(c Cluster, s string) int { return strings.Compare(c.Site, s) })
	hi = lo
	for hi < len(cl) && cl[hi].Site == site {
		hi++
	}
	return lo, hi
}

// local is Local without the clusters that keep replicas.
func (p *Planner) local(w *Workload, site string, share Share, all *candidates) []Share {
	st := p.st
	var at []int // indexes into State.Clusters
	var weights []int64
	if j, ok := p.siteAt[site]; ok {
		lo, hi := all.of(j)
		at, weights = slices.Clone(all.at[lo:hi]), slices.Clone(all.weights[lo:hi])
	}
	first, last := p.clustersOf(site)
	if len(at) == 0 {
		// Held only: stay on the healthy clusters that run it now, at most what they run
		// (the site's hold may count what an unhealthy cluster of it ran).
		running := 0
		for i := first; i < last; i++ {
			if o := w.Status[p.keys[i]]; st.Clusters[i].Healthy && o.Desired > 0 {
				at, weights = append(at, i), append(weights, int64(o.Desired))
				running += o.Desired
			}
		}
		if !duplicated(w) {
			share.Replicas = min(share.Replicas, running)
		}
	}
	placed := len(at)
	if placed > 0 {
		// Running, healthy and no longer a candidate: weight 0, held until the others are ready.
		for i := first; i < last; i++ {
			if st.Clusters[i].Healthy && w.Status[p.keys[i]].Desired > 0 && !slices.Contains(at[:placed], i) {
				at, weights = append(at, i), append(weights, 0)
			}
		}
	}
	current, ready := make([]int, len(at)), make([]int, len(at))
	for k, i := range at {
		o := w.Status[p.keys[i]]
		current[k], ready[k] = o.Desired, o.Ready
	}
	out := make([]Share, len(at))
	if duplicated(w) {
		allReady := true
		for k := range at[:placed] {
			allReady = allReady && ready[k] >= share.Replicas
		}
		out = out[:0]
		for k, i := range at {
			name := st.Clusters[i].Name
			if k < placed {
				out = append(out, Share{Name: name, Replicas: share.Replicas, Base: share.Base, Takeover: share.Takeover, Hold: share.Hold, Reason: share.Reason})
			} else if !allReady {
				out = append(out, Share{Name: name, Replicas: share.Replicas, Hold: share.Replicas, Reason: ReasonHold + ": kept until the placed clusters are ready"})
			}
		}
		return sortShares(out)
	}
	if sum(weights) == 0 {
		for i := range weights[:placed] { // the held ones keep weight 0
			weights[i] = 1
		}
	}
	seats := make([]int, len(at))
	p.webster(seats, weights, current, share.Replicas)
	for k, i := range at {
		out[k] = Share{Name: st.Clusters[i].Name, Replicas: seats[k], Base: seats[k], Reason: ReasonRule}
	}
	hold(out, current, ready, 0)
	for i := range out {
		if out[i].Hold > 0 {
			out[i].Reason += "; " + ReasonHold + ": cluster keeps its surplus until the others are ready"
		}
	}
	held := at[placed:]
	return sortShares(slices.DeleteFunc(out, func(s Share) bool {
		return s.Replicas == 0 && s.Base == 0 && slices.ContainsFunc(held, func(i int) bool { return st.Clusters[i].Name == s.Name })
	}))
}

func sortShares(out []Share) []Share {
	slices.SortFunc(out, func(a, b Share) int { return strings.Compare(a.Name, b.Name) })
	return out
}
