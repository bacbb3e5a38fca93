package site

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"atoll/scheduler"
)

// TestPlanPass: one pass is data. A workload bounded elsewhere that names this site's
// clusters is refused with a reason, a refused workload is not divided, and the
// reconciler's pass places only this site's share in its clusters while an explaining
// pass places every site's. The pass stops when its context is done.
func TestPlanPass(t *testing.T) {
	st := &scheduler.State{
		Sites: []scheduler.Site{{Name: "eu", Jurisdiction: "EU", Alive: true}, {Name: "us", Jurisdiction: "US", Alive: true}},
		Clusters: []scheduler.Cluster{{Site: "eu", Name: "e1", Jurisdiction: "EU", Healthy: true},
			{Site: "us", Name: "u1", Jurisdiction: "US", Healthy: true}},
	}
	ws := []workload{
		{sched: scheduler.Workload{Key: "shop/web", Replicas: 4}},
		{sched: scheduler.Workload{Key: "shop/us-only", Replicas: 2, Bound: []string{"US"},
			Policy: scheduler.Policy{Placement: scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{ClusterNames: []string{"eu/e1", "us/u1"}}}}}},
		{sched: scheduler.Workload{Key: "shop/huge"}, err: errors.New("refused: too many replicas"), refusal: "limit"},
		{sched: scheduler.Workload{Key: "shop/stray", Replicas: 3}, unplaced: notPlaced},
	}
	for _, explain := range []bool{false, true} {
		pass, err := planPass(t.Context(), st, ws, "eu", explain, nil)
		if err != nil {
			t.Fatal(err)
		}
		web := pass[0]
		if len(web.div.Sites) != 2 || len(web.refusals) != 0 {
			t.Fatalf("explain=%t: shop/web divided %+v, refusals %v", explain, web.div.Sites, web.refusals)
		}
		if _, ok := web.local["eu"]; !ok {
			t.Errorf("explain=%t: this site's share of shop/web is not placed in its clusters", explain)
		}
		if _, ok := web.local["us"]; ok != explain {
			t.Errorf("explain=%t: the other site's share placed in its clusters: %t", explain, ok)
		}
		us := pass[1]
		if len(us.refusals) != 1 || us.refusals[0].why != "residency" || !strings.Contains(us.refusals[0].reason, "excludes jurisdiction EU") {
			t.Errorf("explain=%t: shop/us-only refusals %v, want one for residency", explain, us.refusals)
		}
		if _, ok := us.local["eu"]; ok {
			t.Errorf("explain=%t: shop/us-only placed in this site's clusters", explain)
		}
		huge := pass[2]
		if len(huge.div.Sites) != 0 || len(huge.refusals) != 1 || huge.refusals[0].why != "limit" {
			t.Errorf("explain=%t: refused workload divided %+v, refusals %v", explain, huge.div.Sites, huge.refusals)
		}
		if stray := pass[3]; len(stray.div.Sites) != 0 || len(stray.local) != 0 || len(stray.refusals) != 0 {
			t.Errorf("explain=%t: a workload no policy places was divided %+v, placed %v, refused %v", explain, stray.div.Sites, stray.local, stray.refusals)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := planPass(ctx, st, ws, "eu", false, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a pass with its context done: %v", err)
	}
}

// TestPlanPassCached: a pass through a cache plans as a pass without one, pass after
// pass, while a site dies and returns and a workload is written (its version with it).
func TestPlanPassCached(t *testing.T) {
	alive := &scheduler.State{
		Sites: []scheduler.Site{{Name: "eu", Jurisdiction: "EU", Alive: true}, {Name: "us", Jurisdiction: "US", Alive: true}},
		Clusters: []scheduler.Cluster{{Site: "eu", Name: "e1", Jurisdiction: "EU", Healthy: true},
			{Site: "eu", Name: "e2", Jurisdiction: "EU", Healthy: true}, {Site: "us", Name: "u1", Jurisdiction: "US", Healthy: true}},
	}
	dead := *alive
	dead.Sites = slices.Clone(alive.Sites)
	dead.Sites[1].Alive = false
	workloads := func(replicas int) []workload {
		return []workload{
			withStatus(workload{sched: scheduler.Workload{Key: "shop/web", Replicas: replicas}}, map[string]scheduler.Observed{"us/u1": {Desired: 2, Ready: 2}}),
			withStatus(workload{sched: scheduler.Workload{Key: "shop/us-only", Replicas: 2, Bound: []string{"US"}}}, nil),
			{sched: scheduler.Workload{Key: "shop/huge"}, err: errors.New("refused: too many replicas"), refusal: "limit"},
		}
	}
	for _, explain := range []bool{false, true} {
		var cache passCache
		for step, in := range []struct {
			st       *scheduler.State
			replicas int
		}{{alive, 4}, {&dead, 4}, {&dead, 6}, {alive, 6}, {alive, 6}} {
			cached, err := planPass(t.Context(), in.st, workloads(in.replicas), "eu", explain, &cache)
			if err != nil {
				t.Fatal(err)
			}
			full, err := planPass(t.Context(), in.st, workloads(in.replicas), "eu", explain, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range full {
				c, f := cached[i], full[i]
				if !reflect.DeepEqual(c.div, f.div) || !reflect.DeepEqual(c.local, f.local) || !reflect.DeepEqual(c.refusals, f.refusals) {
					t.Errorf("explain=%t step %d %s: cached %+v %v %v, full %+v %v %v", explain, step, f.w.sched.Key, c.div, c.local, c.refusals, f.div, f.local, f.refusals)
				}
			}
			if got := cache.rp.Stats(); step == 4 && got.Replanned != 0 {
				t.Errorf("explain=%t: a pass over the same state re-planned %d workloads", explain, got.Replanned)
			}
		}
	}
}
