package scheduler

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
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

// A site's own replicas that are still starting are no reason for it to hold a surplus:
// it asked for 33 against a share of 25 while its own were starting, with every other
// share ready (the 20,000-pod setup).
func TestFailbackOwnShortfallHoldsNothing(t *testing.T) {
	st := failbackState("a", "b", "c", "d")
	w := &Workload{Key: "shop/web", Replicas: 100, Status: map[string]Observed{
		"a/c1": {Desired: 25, Ready: 25}, "b/c1": {Desired: 25, Ready: 25},
		"c/c1": {Desired: 33, Ready: 10}, "d/c1": {Desired: 25, Ready: 25}}}
	if s := byName(Divide(w, st))["c"]; s.Replicas != 25 || s.Hold != 0 {
		t.Errorf("c: %+v, want its share of 25 and nothing held", s)
	}
	w.Status["d/c1"] = Observed{Desired: 25, Ready: 20}
	if s := byName(Divide(w, st))["c"]; s.Replicas != 30 || s.Hold != 5 {
		t.Errorf("c while d lacks 5: %+v, want 5 held", s)
	}
}

// A holder holds no more than its surplus and no more than what the others lack (short
// of target in ready replicas, or missing), over random statuses.
func TestHoldCoversOnlyOthers(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ATOLL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay with ATOLL_SEED=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range 2000 {
		n := 1 + r.IntN(5)
		shares, current, ready := make([]Share, n), make([]int, n), make([]int, n)
		for i := range shares {
			shares[i] = Share{Name: fmt.Sprint(i), Replicas: r.IntN(10)}
			current[i] = r.IntN(15)
			ready[i] = r.IntN(current[i] + 1)
		}
		missing := r.IntN(3) * r.IntN(2)
		target := make([]int, n)
		for i := range shares {
			target[i] = shares[i].Replicas
		}
		hold(shares, current, ready, missing)
		for i, s := range shares {
			others := missing
			for j := range shares {
				if j != i {
					others += max(target[j]-ready[j], 0)
				}
			}
			want := min(max(current[i]-target[i], 0), others)
			if s.Hold != want || s.Replicas != target[i]+want {
				t.Fatalf("seed %d round %d share %d: target %d current %d ready %d others short %d: got %+v, want hold %d",
					seed, round, i, target[i], current[i], ready[i], others, s, want)
			}
		}
	}
}
