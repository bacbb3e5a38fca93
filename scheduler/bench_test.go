package scheduler

import (
	"fmt"
	"testing"
)

// benchFed is 100 sites in 4 jurisdictions with 10 clusters each.
func benchFed() *State {
	st := &State{}
	jur := []string{"EU", "US", "CH", "JP"}
	for i := range 100 {
		s := Site{Name: fmt.Sprintf("site-%03d", i), Jurisdiction: jur[i%4], Region: fmt.Sprintf("r%d", i%10), Alive: i%17 != 0}
		st.Sites = append(st.Sites, s)
		for j := range 10 {
			st.Clusters = append(st.Clusters, Cluster{Site: s.Name, Name: fmt.Sprintf("c%d", j), Jurisdiction: s.Jurisdiction,
				Region: s.Region, Zone: fmt.Sprintf("z%d", j%3), Healthy: (i+j)%23 != 0,
				Labels:    map[string]string{"tier": fmt.Sprint(j % 2), "env": "prod"},
				Available: Resources{"cpu": int64(4000 + 1000*j), "memory": 64 << 30, "pods": 110}})
		}
	}
	return st
}

// benchWorkloads mixes the policies: even, static weights, dynamic, duplicated, bounded,
// label-selected, spread; each with status reported by the sites that run it.
func benchWorkloads(st *State, n int) []*Workload {
	ws := make([]*Workload, n)
	p := NewPlanner(st)
	for i := range ws {
		w := &Workload{Key: fmt.Sprintf("ns%d/w%d", i%50, i), Replicas: 3 + i%40, Request: Resources{"cpu": 250, "memory": 256 << 20}}
		switch i % 7 {
		case 1:
			w.Policy.ReplicaScheduling = divided(&WeightPreference{StaticWeightList: []StaticWeight{
				{TargetCluster: ClusterAffinity{LabelSelector: labelSel("tier", "0")}, Weight: 2},
				{TargetCluster: ClusterAffinity{LabelSelector: labelSel("tier", "1")}, Weight: 1}}}, Weighted)
		case 2:
			w.Policy.ReplicaScheduling = divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)
		case 3:
			w.Policy.ReplicaScheduling = &ReplicaScheduling{ReplicaSchedulingType: Duplicated}
			w.Policy.ClusterAffinity = &ClusterAffinity{ClusterNames: []string{"c1"}}
		case 4:
			w.Bound = []string{"EU"}
		case 5:
			w.Policy.ClusterAffinity = &ClusterAffinity{LabelSelector: labelSel("tier", "1"),
				FieldSelector: &FieldSelector{MatchExpressions: []Requirement{{Key: "zone", Operator: "NotIn", Values: []string{"z2"}}}}}
		case 6:
			w.Policy.SpreadConstraints = []SpreadConstraint{{SpreadByField: "region", MaxGroups: 3}}
		}
		// Status as if the division had been applied and was ready.
		w.Status = map[string]Observed{}
		for _, s := range p.Divide(w).Sites {
			for _, c := range p.Local(w, s) {
				if c.Replicas > 0 {
					w.Status[s.Name+"/"+c.Name] = Observed{Desired: c.Replicas, Ready: c.Replicas}
				}
			}
		}
		ws[i] = w
	}
	return ws
}

// BenchmarkSchedule is one site's whole scheduling pass over 10,000 workloads on 100 sites
// with 1,000 clusters: the global division of every workload, and the local placement of
// its own share. BenchmarkScheduleAllSites places every site's share (what the whole
// federation computes, summed).
func BenchmarkSchedule(b *testing.B)         { benchSchedule(b, false) }
func BenchmarkScheduleAllSites(b *testing.B) { benchSchedule(b, true) }

func benchSchedule(b *testing.B, all bool) {
	st := benchFed()
	ws := benchWorkloads(st, 10_000)
	self := "site-001"
	b.ResetTimer()
	for b.Loop() {
		p := NewPlanner(st)
		for _, w := range ws {
			for _, s := range p.Divide(w).Sites {
				if all || s.Name == self {
					p.Local(w, s)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/pass")
}
