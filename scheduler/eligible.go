package scheduler

import (
	"cmp"
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
		weights[len(weights)-1] += c.weights[i]
	}
	return names, weights
}

// eligible returns the clusters the workload may run in: inside its bound, tolerated,
// selected by the first affinity term that has a usable cluster, healthy, on a site that
// is alive when live is set, and within the spread constraints.
func eligible(w *Workload, st *State, live bool) candidates {
	p := &w.Policy
	siteOK := map[string]bool{}
	for _, s := range st.Sites {
		siteOK[s.Name] = (len(w.Bound) == 0 || slices.Contains(w.Bound, s.Jurisdiction)) && (s.Alive || !live)
	}
	var pool []*Cluster
	for i := range st.Clusters {
		c := &st.Clusters[i]
		if siteOK[c.Site] && c.Healthy && Tolerates(p.ClusterTolerations, c) {
			pool = append(pool, c)
		}
	}
	terms := p.ClusterAffinities
	if len(terms) == 0 {
		var a ClusterAffinity
		if p.ClusterAffinity != nil {
			a = *p.ClusterAffinity
		}
		terms = []ClusterAffinityTerm{{ClusterAffinity: a}}
	}
	var out candidates
	for _, t := range terms {
		out = candidates{term: t.AffinityName}
		for _, c := range pool {
			if t.ClusterAffinity.Matches(c) {
				out.clusters = append(out.clusters, c)
			}
		}
		if len(out.clusters) > 0 {
			break
		}
	}
	out.weights = make([]int64, len(out.clusters))
	for i, c := range out.clusters {
		out.weights[i] = weight(w, c)
	}
	for _, sc := range p.SpreadConstraints {
		out.spread(sc)
	}
	if len(out.clusters) == 0 {
		switch {
		case len(w.Bound) > 0:
			out.notes = append(out.notes, fmt.Sprintf("no usable cluster inside the bound %s", strings.Join(w.Bound, ",")))
		default:
			out.notes = append(out.notes, "no usable cluster matches the placement")
		}
	}
	return out
}

// weight is a cluster's weight for a divided workload: its static weight, its available
// replicas (dynamic or aggregated), or 1.
func weight(w *Workload, c *Cluster) int64 {
	rs := w.Policy.ReplicaScheduling
	if rs == nil || rs.ReplicaSchedulingType == Duplicated {
		return 1
	}
	if wp := rs.WeightPreference; wp != nil && len(wp.StaticWeightList) > 0 && wp.DynamicWeight == "" {
		for _, sw := range wp.StaticWeightList {
			if sw.TargetCluster.Matches(c) {
				return sw.Weight
			}
		}
		return 0
	}
	dynamic := rs.ReplicaDivisionPreference == Aggregated || rs.WeightPreference != nil && rs.WeightPreference.DynamicWeight == AvailableReplicas
	if !dynamic {
		return 1
	}
	return availableReplicas(w, c)
}

// availableReplicas is how many more replicas of the workload fit in the cluster, plus
// those it already runs there, so that a workload's own pods do not push it away.
func availableReplicas(w *Workload, c *Cluster) int64 {
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
	return n + int64(w.Status[c.Site+"/"+c.Name].Desired)
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
		total[group(cl)] += c.weights[i]
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
