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
func (p *Planner) Local(w *Workload, share Share) []Share {
	st := p.st
	site := share.Name
	all := p.lastCands
	if p.lastKey != w.Key {
		all = p.eligible(w, true)
	}
	var clusters []*Cluster
	var weights []int64
	// Candidates are sorted by site: find this site's run.
	lo, _ := slices.BinarySearchFunc(all.clusters, site, func(c *Cluster, s string) int { return strings.Compare(c.Site, s) })
	for i := lo; i < len(all.clusters) && all.clusters[i].Site == site; i++ {
		clusters, weights = append(clusters, all.clusters[i]), append(weights, all.weights[i])
	}
	current, ready := map[string]int{}, map[string]int{}
	if len(clusters) == 0 {
		// Held only: stay on the healthy clusters that run it now.
		for i := range st.Clusters {
			c := &st.Clusters[i]
			if o := w.Status[p.keys[i]]; c.Site == site && c.Healthy && o.Desired > 0 {
				current[c.Name], ready[c.Name] = o.Desired, o.Ready
				clusters, weights = append(clusters, c), append(weights, int64(current[c.Name]))
			}
		}
	}
	for _, c := range clusters {
		o := w.Status[site+"/"+c.Name]
		current[c.Name], ready[c.Name] = o.Desired, o.Ready
	}
	out := make([]Share, len(clusters))
	if duplicated(w) {
		for i, c := range clusters {
			out[i] = Share{Name: c.Name, Replicas: share.Replicas, Base: share.Base, Takeover: share.Takeover, Hold: share.Hold, Reason: share.Reason}
		}
		return out
	}
	if sum(weights) == 0 {
		for i := range weights {
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
	return out
}
