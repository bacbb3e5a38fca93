package core_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/core"
)

// A replica of a site marks what it stores until the site's log carries it: changes from
// peers are queued for the log only while it leads, its own writes never (the shell
// appends those itself), everything still marked is queued again when it comes to lead,
// and the log's copy clears the mark.
func TestReplicaMarks(t *testing.T) {
	w := newWorld(t, 2)
	s1, s2 := w.sites["s1"], w.sites["s2"]
	rep, err := crdt.NewReplica(crdt.Config{Genesis: w.genesis, Self: s1.signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(core.Config{Self: "s1", Replica: rep, Rand: rand.New(rand.NewPCG(1, 2)), Replicas: true})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.PeerUp("s2", s2.signer.Public(), "s2:7946", now)
	c.Ready()

	health := func(v string) []crdt.Op {
		return []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("s2", "c1"), Field: "health", Value: []byte(v)}}
	}
	fromPeer, err := s2.core.Write(s2.signer, health("healthy"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2.core.Ready()

	// Following: marked, not queued.
	c.Receive("s2", [][]byte{fromPeer.Encode()}, now)
	rd := c.Ready()
	if len(rd.Mark) != 1 || rd.Mark[0] != fromPeer.ID || len(rd.Replicate) != 0 || len(rd.Persist.Stored) != 1 {
		t.Fatalf("a follower's change from a peer: mark %v, replicate %d, stored %d; want it marked, stored and not queued", rd.Mark, len(rd.Replicate), len(rd.Persist.Stored))
	}

	// Coming to lead: what is marked goes to the log.
	c.Lead(now)
	rd = c.Ready()
	if len(rd.Replicate) != 1 || len(rd.Mark) != 0 {
		t.Fatalf("on leading: replicate %d, mark %d; want the marked change queued once", len(rd.Replicate), len(rd.Mark))
	}

	// Leading: a peer's change is marked and queued; its own write only marked.
	second, err := s2.core.Write(s2.signer, health("degraded"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Receive("s2", [][]byte{second.Encode()}, now)
	if rd = c.Ready(); len(rd.Mark) != 1 || len(rd.Replicate) != 1 {
		t.Fatalf("a leader's change from a peer: mark %d, replicate %d; want 1 and 1", len(rd.Mark), len(rd.Replicate))
	}
	own, err := c.Write(s1.signer, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("s1", "c1"), Field: "health", Value: []byte("healthy")}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rd = c.Ready(); len(rd.Mark) != 1 || len(rd.Replicate) != 0 || len(rd.Push) != 1 {
		t.Fatalf("a leader's own write: mark %d, replicate %d, pushes %d; want marked, not queued, pushed", len(rd.Mark), len(rd.Replicate), len(rd.Push))
	}
	if c.MarkedLen() != 3 {
		t.Fatalf("%d marked, want 3", c.MarkedLen())
	}

	// The log's copies clear the marks; a change the log brings that was never here is
	// stored, not marked.
	for _, env := range []*crdt.Envelope{fromPeer, second, own} {
		c.Applied(env.Encode())
	}
	if rd = c.Ready(); len(rd.Unmark) != 3 || len(rd.Mark) != 0 || c.MarkedLen() != 0 {
		t.Fatalf("after the log applied them: unmark %d, mark %d, still marked %d", len(rd.Unmark), len(rd.Mark), c.MarkedLen())
	}

	// Stepped down: a peer's change is marked again but not queued.
	c.StepDown()
	third, err := s2.core.Write(s2.signer, health("down"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Receive("s2", [][]byte{third.Encode()}, now)
	if rd = c.Ready(); len(rd.Mark) != 1 || len(rd.Replicate) != 0 {
		t.Fatalf("after stepping down: mark %d, replicate %d", len(rd.Mark), len(rd.Replicate))
	}
	if got := c.Marked(10); len(got) != 1 {
		t.Fatalf("Marked: %d changes to forward, want 1", len(got))
	}
}
