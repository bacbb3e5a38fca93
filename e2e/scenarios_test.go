package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atoll/e2e/netlab"
	"atoll/site"
)

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// checkConverged waits for agreement and checks that no acknowledged write is missing.
func checkConverged(t *testing.T, f *Fed, within time.Duration) {
	t.Helper()
	start := time.Now()
	if err := f.WaitConverged(deadline(t, within)); err != nil {
		t.Fatal(err)
	}
	lost, err := f.Lost(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost, e.g. %s", len(lost), f.Acked(), lost[0])
	}
	t.Logf("converged %v after the last event; %d acknowledged writes everywhere", time.Since(start).Round(time.Millisecond), f.Acked())
}

// partitionScenario splits 5 sites into {0,1} and {2,3,4}, writes on every site, heals.
func partitionScenario(t *testing.T, f *Fed) {
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Partition(ctx, []int{0, 1}, []int{2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := f.writeAll(ctx, 3*time.Second, 10); err != nil {
		t.Fatal(err)
	}
	sts, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if Converged(sts) {
		t.Fatal("sites agree while partitioned: the partition let traffic through")
	}
	if sts[0].Digest != sts[1].Digest {
		// Same side: pushes cross it at once; give anti-entropy a moment if not.
		if err := f.waitFor(ctx, "one side", func(m map[int]site.State) bool { return m[0].Digest == m[1].Digest }); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, time.Minute)
}

func TestPartitionHeal(t *testing.T) {
	f := start(t, Options{Sites: 5})
	partitionScenario(t, f)
}

func TestPartitionHealNetns(t *testing.T) {
	if ok, why := netlab.Available(); !ok {
		t.Skip("network namespaces unavailable:", why, "(run hack/install-netlab.sh as root)")
	}
	lab, err := netlab.Create(fmt.Sprintf("ate%d", time.Now().UnixNano()%100000), 5)
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, Options{Sites: 5, Lab: lab})
	t.Cleanup(func() { lab.Close() }) // after the sites stop (cleanups run last-in first-out)
	partitionScenario(t, f)
}

// TestPartitionHealProbed heals a partition with the rejoin sweep off (an hour): only the
// probe of one site that is not live (site.Tuning.RejoinProbe) can bring the two sides
// back together, since nothing else crosses to a site memberlist holds dead.
// The partition lasts until each side holds the other dead.
func TestPartitionHealProbed(t *testing.T) {
	f := start(t, Options{Sites: 5, Tune: func(_ int, c *site.Config) { c.Sync.Rejoin = site.Duration(time.Hour) }})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := []int{0, 1}, []int{2, 3, 4}
	if err := f.Partition(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	split := func(sts map[int]site.State) bool {
		for i, st := range sts {
			if want := len(a) - 1; i >= len(a) {
				if len(st.Live) != len(b)-1 {
					return false
				}
			} else if len(st.Live) != want {
				return false
			}
		}
		return true
	}
	if err := f.waitFor(ctx, "each side to hold the other dead", split); err != nil {
		t.Fatal(err)
	}
	if err := f.writeAll(ctx, time.Second, 10); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("membership whole %v after the heal", time.Since(healed).Round(time.Millisecond))
	checkConverged(t, f, time.Minute)
}

// TestKillMidWrite kills a site with SIGKILL while it acknowledges writes, restarts it
// from its data file, and checks that no acknowledged write is lost anywhere.
func TestKillMidWrite(t *testing.T) {
	f := start(t, Options{Sites: 3})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; wctx.Err() == nil; k++ {
			if _, err := f.Write(wctx, 1, fmt.Sprintf("k%d", k%20), Seq(k)); err == nil {
				writes.Add(1)
			}
		}
	}()
	// Kill once writes are flowing.
	if err := f.waitFor(ctx, "writes", func(map[int]site.State) bool { return writes.Load() >= 50 }); err != nil {
		t.Fatal(err)
	}
	if err := f.Kill(1); err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	acked := writes.Load()
	if err := f.StartSite(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(ctx, 1, "after", "restart"); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, time.Minute)
	t.Logf("%d writes acknowledged before kill -9", acked)
}

// TestLateJoin starts a site with an empty data dir after the others have written, and
// waits for it to catch up from nothing.
func TestLateJoin(t *testing.T) {
	// No acknowledgements (site/ack.go), so that the count below is exact on a slow machine.
	f := start(t, Options{Sites: 4, Late: 1, Tune: func(_ int, c *site.Config) { c.Sync.Ack = site.Duration(time.Hour) }})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	for k := range 60 {
		if _, err := f.Write(ctx, k%3, fmt.Sprintf("k%d", k), Seq(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.StartSite(ctx, 3); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, time.Minute)
	st, err := f.Client(3).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The genesis, the 60 writes, and each of the 4 sites' release (site/release.go).
	if want := 1 + 60 + 4; st.Changes != want || st.Counters["sessionsOut"]+st.Counters["sessionsIn"] == 0 {
		t.Fatalf("late site holds %d changes (want %d: the genesis, 60 writes and 4 releases), after %d sessions", st.Changes, want, st.Counters["sessionsOut"]+st.Counters["sessionsIn"])
	}
}

// TestLongPartition keeps two halves apart long enough for memberlist to declare the
// other half dead and forget it, then heals: the sites must find each other again on
// their own (rejoin) and converge.
func TestLongPartition(t *testing.T) {
	fast := func(_ int, c *site.Config) {
		c.Membership = site.MembershipConfig{
			ProbeInterval: site.Duration(200 * time.Millisecond), ProbeTimeout: site.Duration(100 * time.Millisecond),
			SuspicionMult: 2, SuspicionMaxTimeoutMult: 1, GossipToTheDeadTime: site.Duration(time.Second),
		}
		c.Sync.Rejoin = site.Duration(time.Second)
	}
	f := start(t, Options{Sites: 4, Tune: fast})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Partition(ctx, []int{0, 1}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	// Each side sees only itself, then stays apart for several times GossipToTheDeadTime.
	if err := f.waitFor(ctx, "each side alone", func(m map[int]site.State) bool {
		for _, st := range m {
			if len(st.Live) != 1 {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.writeAll(ctx, 4*time.Second, 5); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitMembers(deadline(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, 30*time.Second)
}
