package e2e

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// TestChangesBecomeStable: real sites acknowledge what they hold, so an operator's
// changes become stable at every site (held by all: what compaction builds on), and an
// idle federation then stops writing acknowledgements.
func TestChangesBecomeStable(t *testing.T) {
	const ack = 300 * time.Millisecond
	f, op, ctx := startWithOperator(t, Options{Sites: 3, HTTP: true, Tune: func(_ int, c *site.Config) { c.Sync.Ack = site.Duration(ack) }}, 2*time.Minute)
	for i := range 5 {
		if err := op.write(ctx, i%3, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "web/app", Field: "replicas", Value: []byte{byte('1' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Every site ends holding everything stable but the last round of acknowledgements
	// (at most one per site), and writes no more: the counts hold still over many ack
	// intervals.
	type counts struct{ held, stable float64 }
	read := func() []counts {
		out := make([]counts, 3)
		for i := range 3 {
			out[i] = counts{metricValue(ctx, t, f, i, "atoll_changes_held"), metricValue(ctx, t, f, i, "atoll_changes_stable")}
		}
		return out
	}
	var last []counts
	still := 0
	for still < 10 {
		select {
		case <-ctx.Done():
			t.Fatalf("the sites never settled with their changes stable: %+v", last)
		case <-time.After(ack):
		}
		if ctx.Err() != nil {
			t.Fatalf("the sites never settled with their changes stable: %+v", last)
		}
		now := read()
		settled := true
		for i, c := range now {
			if c.held-c.stable > 3 || c.stable < 6 || c != now[0] || last != nil && c != last[i] {
				settled = false
			}
		}
		if settled {
			still++
		} else {
			still = 0
		}
		last = now
	}
	t.Logf("settled: %+v (held, stable) at each site", last)
}

// TestStableAfterRestart: stability is recomputed from the changes held, so a site that
// restarts reports what it reported before.
func TestStableAfterRestart(t *testing.T) {
	f, op, ctx := startWithOperator(t, Options{Sites: 2, HTTP: true, Tune: func(_ int, c *site.Config) { c.Sync.Ack = site.Duration(200 * time.Millisecond) }}, 2*time.Minute)
	if err := op.write(ctx, 0, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "web/app", Field: "replicas", Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	var before float64
	for before < 2 {
		select {
		case <-ctx.Done():
			t.Fatal("nothing became stable")
		case <-time.After(100 * time.Millisecond):
		}
		before = metricValue(ctx, t, f, 1, "atoll_changes_stable")
	}
	if err := f.StopSite(1); err != nil {
		t.Fatal(err)
	}
	if err := f.StartSite(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if after := metricValue(ctx, t, f, 1, "atoll_changes_stable"); after < before {
		t.Fatalf("stable changes %v before the restart, %v after", before, after)
	}
}

// TestCompactionServesLateReader: real sites acknowledge and compact an operator's 600
// overwrites of one workload into skeletons (stable, shadowed); an observer that starts
// afterwards, holding nothing, catches up from them: the compacted changes are read back
// from the sites' data files, and it converges on their digest.
func TestCompactionServesLateReader(t *testing.T) {
	f, op, ctx := startWithOperator(t, Options{Sites: 3, HTTP: true, Observers: []string{"late"}, Tune: func(_ int, c *site.Config) { c.Sync.Ack = site.Duration(200 * time.Millisecond) }}, 3*time.Minute)
	const writes = 600
	for i := range writes {
		if err := op.write(ctx, i%3, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "web/app", Field: "replicas", Value: []byte(strconv.Itoa(1 + i%9))}); err != nil {
			t.Fatal(err)
		}
	}
	var skel []float64
	err := poll(ctx, func() bool {
		skel = skel[:0]
		for i := range 3 {
			skel = append(skel, metricValue(ctx, t, f, i, "atoll_changes_skeletons"))
		}
		return slices.Min(skel) >= writes/2
	})
	if err != nil {
		t.Fatalf("the sites did not compact: skeletons %v", skel)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := f.StartObserver(ctx, "late", addr); err != nil {
		t.Fatal(err)
	}
	var v, s0 site.View
	err = poll(ctx, func() bool {
		if _, err := getJSON(ctx, f.HTTP(), f.URL(0)+"/v1/view", &s0); err != nil {
			return false
		}
		code, err := getJSON(ctx, f.HTTP(), "http://"+addr+"/v1/view", &v)
		return err == nil && code == 200 && v.Digest == s0.Digest
	})
	if err != nil {
		t.Fatalf("the late observer never converged: digest %s, sites %s", v.Digest, s0.Digest)
	}
	// A site restarts with its skeletons read back from its data file in place of the
	// changes, and holds the same state.
	if err := f.StopSite(1); err != nil {
		t.Fatal(err)
	}
	if err := f.StartSite(ctx, 1); err != nil {
		t.Fatal(err)
	}
	after := metricValue(ctx, t, f, 1, "atoll_changes_skeletons")
	if after < skel[1] {
		t.Fatalf("site 1 holds %v skeletons after a restart, %v before", after, skel[1])
	}
	var s1 site.View
	err = poll(ctx, func() bool {
		if _, err := getJSON(ctx, f.HTTP(), f.URL(0)+"/v1/view", &s0); err != nil {
			return false
		}
		_, err := getJSON(ctx, f.HTTP(), f.URL(1)+"/v1/view", &s1)
		return err == nil && s1.Digest == s0.Digest
	})
	if err != nil {
		t.Fatalf("site 1 restarted with digest %s, want %s", s1.Digest, s0.Digest)
	}
	t.Logf("skeletons at the sites: %v (site 1 after a restart: %v); the observer converged on %s", skel, after, v.Digest)
}
