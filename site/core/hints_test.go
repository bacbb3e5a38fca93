package core_test

import (
	"testing"

	"atoll/crdt"
	"atoll/peering"
)

// TestHintBeforePeerUp: a hint from a charter site that is not live yet is kept (the
// latest one) and applied when the site comes up, so the session that fetches what it
// holds starts after the grace, not at the safety net. A stranger's hint is not kept, and
// a hint that does not decode is a strike.
func TestHintBeforePeerUp(t *testing.T) {
	w := newWorld(t, 2)
	s1, s2 := w.sites["s1"], w.sites["s2"]
	s1.core.PeerDown("s2", w.now)
	s1.core.Ready()

	missing := [32]byte{1, 2, 3}
	older := peering.NewMeta(5, [][32]byte{{9}})
	latest := peering.NewMeta(7, [][32]byte{missing})
	for _, m := range []peering.Meta{older, latest} {
		if ok, err := s1.core.Hint("s2", peering.EncodeHint(m), w.now); !ok || err != nil {
			t.Fatalf("hint before s2 is live: ok %v, err %v", ok, err)
		}
	}
	if _, ok := s1.core.Sync("s2"); ok {
		t.Fatal("a hint made s2 known to anti-entropy before it was live")
	}
	if ok, err := s1.core.Hint("mallory", peering.EncodeHint(latest), w.now); !ok || err != nil {
		t.Fatalf("stranger's hint: ok %v, err %v", ok, err)
	}

	s1.core.PeerUp("s2", s2.signer.Public(), "", w.now)
	if !s1.core.Ready().Wake {
		t.Fatal("PeerUp with a kept hint did not wake the sync loop")
	}
	ps, ok := s1.core.Sync("s2")
	if !ok || !ps.HaveMeta || ps.Meta.Changes != 7 || len(ps.Meta.Heads) != 1 || ps.Meta.Heads[0] != missing {
		t.Fatalf("after PeerUp, s2's advertisement %+v (known %v), want the latest hint", ps, ok)
	}
	s1.core.Due(w.now)
	if ps, _ := s1.core.Sync("s2"); ps.Behind.IsZero() {
		t.Fatal("anti-entropy did not note the head the kept hint names as missing")
	}

	s1.core.PeerDown("mallory", w.now)
	s1.core.PeerUp("mallory", s2.signer.Public(), "", w.now)
	if ps, ok := s1.core.Sync("mallory"); ok && ps.HaveMeta {
		t.Fatal("a stranger's hint was kept")
	}

	if ok, err := s1.core.Hint("s2", []byte{peering.HintTag, 9}, w.now); err == nil || !ok {
		t.Fatalf("malformed hint: ok %v, err %v; want an error and a strike, not a refusal", ok, err)
	}
}

// TestHintNeverAnEnvelope: a hint frame never decodes as a change envelope, so a push
// stream's frames are typed by their first byte.
func TestHintNeverAnEnvelope(t *testing.T) {
	for _, n := range []int{0, 1, peering.MaxMetaHeads} {
		hs := make([][32]byte, n)
		for i := range hs {
			hs[i][0] = byte(i + 1)
		}
		b := peering.EncodeHint(peering.NewMeta(n, hs))
		if _, err := crdt.DecodeEnvelope(b); err == nil {
			t.Fatalf("hint frame % x decoded as an envelope", b)
		}
	}
}

// TestHintOwed: a site's own write owes no hint (its push is the news); a hint from a
// peer that holds less owes that peer one back, and a hint naming a head this site lacks
// owes none.
func TestHintOwed(t *testing.T) {
	w := newWorld(t, 2)
	s1, s2 := w.sites["s1"], w.sites["s2"]
	meta := func(c interface {
		Replica() *crdt.Replica
	}) peering.Meta {
		heads := c.Replica().Heads()
		hs := make([][32]byte, len(heads))
		for i, h := range heads {
			hs[i] = h
		}
		return peering.NewMeta(c.Replica().Len(), hs)
	}
	behind := meta(s2.core)
	if _, err := s1.core.Write(s1.signer, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindSite, Key: "s1", Field: "version", Value: []byte("x")}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if rd := s1.core.Ready(); rd.Hint || len(rd.HintTo) > 0 || len(rd.Push) == 0 {
		t.Fatalf("a write: Hint %v, HintTo %v, %d pushes; want no hint and a push", rd.Hint, rd.HintTo, len(rd.Push))
	}
	if _, err := s1.core.Hint("s2", peering.EncodeHint(behind), w.now); err != nil {
		t.Fatal(err)
	}
	if rd := s1.core.Ready(); len(rd.HintTo) != 1 || rd.HintTo[0] != "s2" {
		t.Fatalf("a hint from a peer behind: HintTo %v, want [s2]", rd.HintTo)
	}
	if _, err := s2.core.Hint("s1", peering.EncodeHint(meta(s1.core)), w.now); err != nil {
		t.Fatal(err)
	}
	if rd := s2.core.Ready(); len(rd.HintTo) > 0 || !rd.Wake {
		t.Fatalf("a hint from a peer ahead: HintTo %v, Wake %v; want none and a wake-up", rd.HintTo, rd.Wake)
	}
	if _, err := s1.core.Hint("s2", peering.EncodeHint(meta(s1.core)), w.now); err != nil {
		t.Fatal(err)
	}
	if rd := s1.core.Ready(); len(rd.HintTo) > 0 {
		t.Fatalf("a hint from a peer level with this site: HintTo %v", rd.HintTo)
	}
}
