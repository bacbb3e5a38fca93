package site

import (
	"strings"
	"testing"

	"atoll/crdt"
)

// TestReportUnobserved: a site whose status says its cluster runs a workload ready
// reports it unobserved (ready 0, a newer record) when it starts leading, so no other
// site lets go of replicas it took over on the strength of a report from before; a
// record that already says 0 is not written again, and another site's is left alone.
func TestReportUnobserved(t *testing.T) {
	s, _, _, genesis := openTestSite(t)
	op := crdt.SignerFromSeed([]byte(strings.Repeat("operator", 4)))
	ro, err := crdt.NewReplica(crdt.Config{Genesis: genesis})
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for _, name := range []string{"front", "back"} {
		set := func(f, v string) crdt.Op {
			return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "web/" + name, Field: f, Value: []byte(v)}
		}
		env, _, err := ro.Write(op, []crdt.Op{set("apiVersion", "apps/v1"), set("kind", "Deployment"), set("replicas", "3")}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, env.Encode())
	}
	s.receivePush("b", frames)
	status := func(name, f, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: crdt.StatusKey("web", name, "a", "c1"), Field: f, Value: []byte(v)}
	}
	cluster := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("a", "c1"), Field: "health", Value: []byte("healthy")}
	if _, _, err := s.record([]crdt.Op{cluster, status("front", "desired", "3"), status("front", "ready", "3"),
		status("back", "desired", "2"), status("back", "ready", "0")}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) (ready, desired string, seq uint64) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rec, _, ok := s.rep.Soft(crdt.KindStatus, crdt.StatusKey("web", name, "a", "c1"))
		if !ok {
			t.Fatalf("no status record of web/%s", name)
		}
		for _, f := range rec.Fields {
			switch f.Name {
			case "ready":
				ready = string(f.Value)
			case "desired":
				desired = string(f.Value)
			}
		}
		return ready, desired, rec.Seq
	}
	_, _, frontSeq := read("front")
	_, _, backSeq := read("back")
	n, err := s.reportUnobserved()
	if err != nil || n != 1 {
		t.Fatalf("reportUnobserved wrote %d records (%v), want 1", n, err)
	}
	if ready, desired, seq := read("front"); ready != "0" || desired != "3" || seq <= frontSeq {
		t.Errorf("web/front reads ready %s desired %s seq %d (was %d); want 0, 3 and a newer record", ready, desired, seq, frontSeq)
	}
	if _, _, seq := read("back"); seq != backSeq {
		t.Errorf("web/back, already 0 ready, was written again")
	}
	if n, err := s.reportUnobserved(); err != nil || n != 0 {
		t.Errorf("a second report wrote %d records (%v), want none", n, err)
	}
}
