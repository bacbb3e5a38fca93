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
