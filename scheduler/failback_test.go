package scheduler

import (
	"fmt"
	"testing"
)

// Regression tests for make-before-break failures that chaos.RunFailover found: each is
// the smallest state in which some replica was deleted before its replacement was ready.

// failbackState has one cluster "c1" per site, all in the EU, alive and healthy.
func failbackState(sites ...string) *State {
	st := &State{}
	for _, s := range sites {
		st.Sites = append(st.Sites, Site{Name: s, Jurisdiction: "EU", Alive: true})
		st.Clusters = append(st.Clusters, Cluster{Site: s, Name: "c1", Jurisdiction: "EU", Healthy: true})
	}
	return st
}

func byName(d Division) map[string]Share {
	m := map[string]Share{}
	for _, s := range d.Sites {
		m[s.Name] = s
	}
	return m
}

// Two sites that see different status must agree on the base division, or each may
// leave a tied seat to the other.
func TestFailbackBaseIgnoresStatus(t *testing.T) {
	st := failbackState("a", "b", "c")
	for _, status := range []map[string]Observed{
		nil,
		{"c/c1": {Desired: 2, Ready: 2}},
		{"b/c1": {Desired: 3, Ready: 3}, "c/c1": {Desired: 1, Ready: 1}},
	} {
		w := &Workload{Key: "shop/web", Replicas: 4, Status: status}
		got := byName(Divide(w, st))
		if got["a"].Base != 2 || got["b"].Base != 1 || got["c"].Base != 1 {
			t.Errorf("status %v: bases a=%d b=%d c=%d, want 2 1 1", status, got["a"].Base, got["b"].Base, got["c"].Base)
		}
	}
}

// A site that runs replicas but is no longer placed (here, by a spread constraint) keeps
// them until the placed site is ready, and Local keeps them where they run.
func TestFailbackUnplacedSiteHolds(t *testing.T) {
	st := failbackState("a", "b")
	w := &Workload{Key: "shop/web", Replicas: 4,
		Policy: Policy{Placement: Placement{SpreadConstraints: []SpreadConstraint{{SpreadByField: "site", MaxGroups: 1}}}},
		Status: map[string]Observed{"a/c1": {Desired: 4, Ready: 1}, "b/c1": {Desired: 4, Ready: 4}}}
	got := byName(Divide(w, st))
	if s := got["b"]; s.Replicas != 3 || s.Hold != 3 {
		t.Fatalf("b: %+v, want the 3 replicas a lacks held", s)
	}
	if l := Local(w, got["b"], st); len(l) != 1 || l[0].Replicas != 3 {
		t.Errorf("b's clusters: %+v, want c1=3", l)
	}
	w.Status["a/c1"] = Observed{Desired: 4, Ready: 4}
	if s := byName(Divide(w, st))["b"]; s.Replicas != 0 {
		t.Errorf("b once a is ready: %+v, want nothing", s)
	}
}

// Replicas missing from the division (a site dead to the viewer, takeover off) count as
// short: a site whose share shrank keeps its surplus meanwhile.
func TestFailbackMissingCountsAsShort(t *testing.T) {
	st := failbackState("a", "b", "c")
	st.Sites[2].Alive = false
	off := false
	w := &Workload{Key: "shop/web", Replicas: 6, Policy: Policy{Takeover: &off},
		Status: map[string]Observed{"a/c1": {Desired: 2, Ready: 2}, "b/c1": {Desired: 3, Ready: 3}}}
	d := Divide(w, st)
	if s := byName(d)["b"]; d.Missing != 2 || s.Replicas != 3 || s.Hold != 1 {
		t.Errorf("missing %d, b: %+v; want 2 missing and b holding 1", d.Missing, s)
	}
}

// Every holder keeps the surplus that covers the shortfall: holders that split it would
// each count on another that may see the state differently.
func TestFailbackEveryHolderHolds(t *testing.T) {
	st := failbackState("a", "b", "c")
	w := &Workload{Key: "shop/web", Replicas: 6,
		Status: map[string]Observed{"a/c1": {Desired: 4, Ready: 4}, "b/c1": {Desired: 3, Ready: 3}, "c/c1": {Desired: 2}}}
	got := byName(Divide(w, st))
	if fmt.Sprint(got["a"].Replicas, got["b"].Replicas, got["c"].Replicas) != "4 3 2" {
		t.Errorf("a=%+v b=%+v c=%+v, want a and b to keep their surplus", got["a"], got["b"], got["c"])
	}
}
