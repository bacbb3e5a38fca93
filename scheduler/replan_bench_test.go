package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// replanWorkloads are n workloads over benchFed's sites, each placed on 10 sites drawn at
// random (a field selector on the site), with benchWorkloads' mix of weights: about a
// tenth of them have any one site among their candidates. Their status is as if their
// division had been applied and were ready. Each has a Version, as the site gives them.
func replanWorkloads(st *State, n int) []*Workload {
	ws := benchWorkloads(st, 0)
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPlanner(st)
	for i := range n {
		w := &Workload{Key: fmt.Sprintf("ns%d/w%d", i%50, i), Replicas: 3 + i%40, Request: Resources{"cpu": 250, "memory": 256 << 20},
			Version: uint64(i + 1)}
		var sites []string
		for _, k := range r.Perm(len(st.Sites))[:10] {
			sites = append(sites, st.Sites[k].Name)
		}
		slices.Sort(sites)
		w.Policy.ClusterAffinity = &ClusterAffinity{FieldSelector: &FieldSelector{MatchExpressions: []Requirement{{Key: "site", Operator: "In", Values: sites}}}}
		switch i % 4 {
		case 1:
			w.Policy.ReplicaScheduling = divided(&WeightPreference{StaticWeightList: []StaticWeight{
				{TargetCluster: ClusterAffinity{LabelSelector: labelSel("tier", "0")}, Weight: 2},
				{TargetCluster: ClusterAffinity{LabelSelector: labelSel("tier", "1")}, Weight: 1}}}, Weighted)
		case 2:
			w.Policy.ReplicaScheduling = divided(&WeightPreference{DynamicWeight: AvailableReplicas}, Weighted)
		case 3:
			w.Policy.ReplicaScheduling = &ReplicaScheduling{ReplicaSchedulingType: Duplicated}
		}
		w.Status = map[string]Observed{}
		for _, s := range p.Divide(w).Sites {
			for _, c := range p.Local(w, s) {
				if c.Replicas > 0 {
					w.Status[s.Name+"/"+c.Name] = Observed{Desired: c.Replicas, Ready: c.Replicas}
				}
			}
		}
		ws = append(ws, w)
	}
	return ws
}

// BenchmarkReplanSiteDeath is one site's re-planning when another site dies, over 10,000
// workloads of which about 1,000 have the dying site among their candidates: only the
// re-plan after the death is timed (the revival that resets it is not). The workloads
// have versions, as the site gives them; unversioned is the same re-plan without them
// (every workload read to find out whether it changed), and full the whole pass over the
// same state, for comparison.
func BenchmarkReplanSiteDeath(b *testing.B) {
	alive := benchFed()
	ws := replanWorkloads(alive, 10_000)
	dead := cloneState(alive)
	victim := "site-005"
	dead.kill(victim)
	affected := 0
	for _, w := range ws {
		if slices.Contains(w.Policy.ClusterAffinity.FieldSelector.MatchExpressions[0].Values, victim) {
			affected++
		}
	}
	replan := func(ws []*Workload) func(b *testing.B) {
		return func(b *testing.B) {
			rp := NewReplanner("site-001")
			rp.Plan(alive, ws)
			for b.Loop() {
				rp.Plan(dead, ws)
				b.StopTimer()
				rp.Plan(alive, ws)
				b.StartTimer()
			}
			rp.Plan(dead, ws)
			b.ReportMetric(float64(rp.Stats().Replanned), "replanned")
			b.ReportMetric(float64(affected), "candidates")
		}
	}
	unversioned := make([]*Workload, len(ws))
	for i, w := range ws {
		u := *w
		u.Version = 0
		unversioned[i] = &u
	}
	b.Run("replan", replan(ws))
	b.Run("unversioned", replan(unversioned))
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			NewReplanner("site-001").Plan(dead, ws)
		}
	})
}

// BenchmarkReplanOneWrite is one site's re-planning when one workload of 10,000 changes
// its replicas (and so its Version).
func BenchmarkReplanOneWrite(b *testing.B) {
	st := benchFed()
	ws := replanWorkloads(st, 10_000)
	other := slices.Clone(ws)
	w := *ws[4321]
	w.Replicas++
	w.Version = uint64(len(ws) + 1)
	other[4321] = &w
	rp := NewReplanner("site-001")
	rp.Plan(st, ws)
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			rp.Plan(st, other)
		} else {
			rp.Plan(st, ws)
		}
		n++
	}
	b.ReportMetric(float64(rp.Stats().Replanned), "replanned")
}

// BenchmarkFingerprint is the fingerprint of 10,000 workloads, which every re-plan takes.
func BenchmarkFingerprint(b *testing.B) {
	ws := replanWorkloads(benchFed(), 10_000)
	f := newFingerprinter()
	entries := 0
	for _, w := range ws {
		entries += len(w.Status)
	}
	for b.Loop() {
		for _, w := range ws {
			f.of(w)
		}
	}
	b.ReportMetric(float64(entries)/float64(len(ws)), "status/workload")
}
