package scheduler

import "strings"

// Local places one site's share of a workload across its own clusters: the second level.
// Duplicated: every usable cluster runs all the replicas. Divided: Webster's method over
// the usable clusters' weights, ties going to where replicas already run. In both, a
// cluster running more than its target keeps the surplus until the others are ready, so a
// recovered cluster fills before another drains. A share held only for failback stays
// where it runs.
func Local(w *Workload, share Share, st *State) []Share {
	site := share.Name
	all := eligible(w, st, true)
	var clusters []*Cluster
	var weights []int64
	for i, c := range all.clusters {
		if c.Site == site {
			clusters, weights = append(clusters, c), append(weights, all.weights[i])
		}
	}
	current, ready := map[string]int{}, map[string]int{}
	for k, o := range w.Status {
		if s, c, _ := strings.Cut(k, "/"); s == site {
			current[c], ready[c] = o.Desired, o.Ready
		}
	}
	if len(clusters) == 0 {
		// Held only: stay on the healthy clusters that run it now.
		for i := range st.Clusters {
			c := &st.Clusters[i]
			if c.Site == site && c.Healthy && current[c.Name] > 0 {
				clusters, weights = append(clusters, c), append(weights, int64(current[c.Name]))
			}
		}
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
	hold(out, current, ready)
	for i := range out {
		if out[i].Hold > 0 {
			out[i].Reason += "; " + ReasonHold + ": cluster keeps its surplus until the others are ready"
		}
	}
	return out
}
