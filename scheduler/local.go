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
	if p.lastKey != w.Key {
		ks = p.keeps(w)
		all = p.eligible(p.without(w, ks), true)
	}
	kept, taken := p.localKeeps(w, site, ks)
	if len(kept) > 0 || len(ks) > 0 {
		w = p.without(w, ks)
		share.Replicas = max(share.Replicas-taken, 0)
	}
	if len(kept) > 0 && duplicated(w) && share.Hold == 0 && !slices.ContainsFunc(all.clusters, func(c *Cluster) bool { return c.Site == site }) {
		return kept // the share is the kept clusters': nothing else of the site runs it
	}
	out := p.local(w, site, share, all)
	if len(kept) > 0 {
		out = sortShares(append(out, kept...))
	}
	return out
}

// local is Local without the clusters that keep replicas.
func (p *Planner) local(w *Workload, site string, share Share, all candidates) []Share {
	st := p.st
	var clusters []*Cluster
	var weights []int64
	// Candidates are sorted by site: find this site's run.
	lo, _ := slices.BinarySearchFunc(all.clusters, site, func(c *Cluster, s string) int { return strings.Compare(c.Site, s) })
	for i := lo; i < len(all.clusters) && all.clusters[i].Site == site; i++ {
		clusters, weights = append(clusters, all.clusters[i]), append(weights, all.weights[i])
	}
	current, ready := map[string]int{}, map[string]int{}
	if len(clusters) == 0 {
		// Held only: stay on the healthy clusters that run it now, at most what they run
		// (the site's hold may count what an unhealthy cluster of it ran).
		running := 0
		for i := range st.Clusters {
			c := &st.Clusters[i]
			if o := w.Status[p.keys[i]]; c.Site == site && c.Healthy && o.Desired > 0 {
				current[c.Name], ready[c.Name] = o.Desired, o.Ready
				clusters, weights = append(clusters, c), append(weights, int64(current[c.Name]))
				running += o.Desired
			}
		}
		if !duplicated(w) {
			share.Replicas = min(share.Replicas, running)
		}
	}
	placed := len(clusters)
	if placed > 0 {
		// Running, healthy and no longer a candidate: weight 0, held until the others are ready.
		for i := range st.Clusters {
			c := &st.Clusters[i]
			if c.Site == site && c.Healthy && w.Status[p.keys[i]].Desired > 0 && !slices.Contains(clusters[:placed], c) {
				clusters, weights = append(clusters, c), append(weights, 0)
			}
		}
	}
	for _, c := range clusters {
		o := w.Status[site+"/"+c.Name]
		current[c.Name], ready[c.Name] = o.Desired, o.Ready
	}
	out := make([]Share, len(clusters))
	if duplicated(w) {
		allReady := true
		for _, c := range clusters[:placed] {
			allReady = allReady && ready[c.Name] >= share.Replicas
		}
		out = out[:0]
		for i, c := range clusters {
			if i < placed {
				out = append(out, Share{Name: c.Name, Replicas: share.Replicas, Base: share.Base, Takeover: share.Takeover, Hold: share.Hold, Reason: share.Reason})
			} else if !allReady {
				out = append(out, Share{Name: c.Name, Replicas: share.Replicas, Hold: share.Replicas, Reason: ReasonHold + ": kept until the placed clusters are ready"})
			}
		}
		return sortShares(out)
	}
	if sum(weights) == 0 {
		for i := range weights[:placed] { // the held ones keep weight 0
			weights[i] = 1
		}
	}
	seats := make([]int, len(clusters))
	sticky := make([]int, len(clusters))
	for i, c := range clusters {
		sticky[i] = current[c.Name]
	}
	webster(seats, weights, sticky, share.Replicas)
	for i, c := range clusters {
		out[i] = Share{Name: c.Name, Replicas: seats[i], Base: seats[i], Reason: ReasonRule}
	}
	hold(out, current, ready, 0)
	for i := range out {
		if out[i].Hold > 0 {
			out[i].Reason += "; " + ReasonHold + ": cluster keeps its surplus until the others are ready"
		}
	}
	return sortShares(slices.DeleteFunc(out, func(s Share) bool { return s.Replicas == 0 && s.Base == 0 && weightless(s, clusters[placed:]) }))
}

// weightless reports whether a share is of a cluster held only for failback.
func weightless(s Share, held []*Cluster) bool {
	return slices.ContainsFunc(held, func(c *Cluster) bool { return c.Name == s.Name })
}

func sortShares(out []Share) []Share {
	slices.SortFunc(out, func(a, b Share) int { return strings.Compare(a.Name, b.Name) })
	return out
}
