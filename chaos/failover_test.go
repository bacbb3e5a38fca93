package chaos

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"atoll/scheduler"
)

// TestFailover runs a range of seeds of the failover simulation; ATOLL_SEED=N replays one.
func TestFailover(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if v := os.Getenv("ATOLL_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{s}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rep, err := RunFailover(FailoverConfig{Seed: seed})
			if err != nil {
				t.Fatalf("%v\nreplay: ATOLL_SEED=%d go test ./chaos -run TestFailover -v, or: atoll chaos failover --seed-start %d --seeds 1",
					err, seed, seed)
			}
			if rep.Deaths == 0 || rep.Partitions+rep.Isolations == 0 || rep.ClusterFailures == 0 || rep.Cordons == 0 {
				t.Fatalf("seed %d: a run without deaths, partitions or cluster failures tests little: %+v", seed, rep)
			}
			d, de, r, n := TakeoverMedians(rep.Takeovers)
			t.Logf("seed %d: %d ticks, %d deaths, %d isolations, %d partitions, %d cluster failures, %d cordons; takeover detect/decide/ready %.0f/%.0f/%.0f ticks over %d of %d",
				seed, rep.Ticks, rep.Deaths, rep.Isolations, rep.Partitions, rep.ClusterFailures, rep.Cordons, d, de, r, n, len(rep.Takeovers))
		})
	}
}

// TestFailoverReplay runs one seed twice: the same seed must give the same report.
func TestFailoverReplay(t *testing.T) {
	cfg := FailoverConfig{Sites: 12, Seed: 42, Ticks: 150}
	a, errA := RunFailover(cfg)
	b, errB := RunFailover(cfg)
	if fmt.Sprint(errA) != fmt.Sprint(errB) || !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 42 ran differently twice:\n%+v (%v)\n%+v (%v)", a, errA, b, errB)
	}
	if len(a.Takeovers) == 0 {
		t.Fatalf("seed 42 measured no takeover: %+v", a)
	}
}

// TestFailoverCatchesBreaches runs broken placers: the checker must report each breach,
// naming the seed.
func TestFailoverCatchesBreaches(t *testing.T) {
	// ignoreBound places every workload as if it had no residency bound.
	ignoreBound := func(site string, w *scheduler.Workload, st *scheduler.State) (scheduler.Share, []scheduler.Share) {
		u := *w
		u.Bound = nil
		return DefaultPlace(site, &u, st)
	}
	// breakFirst drops every failback hold, of sites and of clusters.
	breakFirst := func(site string, w *scheduler.Workload, st *scheduler.State) (scheduler.Share, []scheduler.Share) {
		share, _ := DefaultPlace(site, w, st)
		share.Replicas, share.Hold = share.Replicas-share.Hold, 0
		local := scheduler.Local(w, share, st)
		for i := range local {
			local[i].Replicas, local[i].Hold = local[i].Replicas-local[i].Hold, 0
		}
		return share, local
	}
	// ignoreCordons places as if no cluster were tainted.
	ignoreCordons := func(site string, w *scheduler.Workload, st *scheduler.State) (scheduler.Share, []scheduler.Share) {
		u := *st
		u.Clusters = slices.Clone(st.Clusters)
		for i := range u.Clusters {
			u.Clusters[i].Taints = nil
		}
		return DefaultPlace(site, w, &u)
	}
	for _, tt := range []struct {
		name  string
		place Placer
		want  string
		count func(FailoverReport) int
	}{
		{"ignore the bound", ignoreBound, "residency", func(r FailoverReport) int { return r.ResidencyViolations }},
		{"break before make", breakFirst, "make-before-break", func(r FailoverReport) int { return r.BrokenMakeBeforeBreak }},
		{"ignore cordons", ignoreCordons, "cordon", func(r FailoverReport) int { return r.CordonGained }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caught := 0
			for seed := uint64(1); seed <= 3; seed++ {
				rep, err := RunFailover(FailoverConfig{Sites: 12, Seed: seed, Ticks: 150, Place: tt.place})
				if err == nil {
					continue
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("seed %d:", seed)) {
					t.Errorf("the error does not name the seed: %v", err)
				}
				if strings.Contains(err.Error(), tt.want) && tt.count(rep) > 0 {
					caught++
				}
			}
			if caught == 0 {
				t.Fatalf("no seed of 1 to 3 reported a %s breach", tt.want)
			}
		})
	}
}
