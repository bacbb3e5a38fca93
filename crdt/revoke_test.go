package crdt

import (
	"errors"
	"slices"
	"testing"
)

// deliver gives every envelope to every replica, in the order given.
func deliver(t *testing.T, envs []*Envelope, reps ...*Replica) {
	t.Helper()
	for _, r := range reps {
		for _, e := range envs {
			if res := r.Receive(e.Encode()); len(res.Rejected) > 0 {
				t.Fatalf("%s rejected %s: %v", r, e.ID, res.Rejected[0].Err)
			}
		}
	}
}

func replicasAgree(t *testing.T, reps ...*Replica) {
	t.Helper()
	for _, r := range reps[1:] {
		if err := sameReplicas(reps[0], r); err != nil {
			t.Fatal(err)
		}
	}
}

// An operator removed from the charter keeps writing with its key on a past that does not
// hold its removal (a Byzantine copy of the key): every such change is void at every
// replica, whether it arrived before the removal or after, and a change built on the
// removal is rejected.
func TestRevokedOperatorBackdated(t *testing.T) {
	f := newFed(t)
	a, b, stale := f.replica(t, "eu-west"), f.replica(t, "us-east"), f.replica(t, "")
	shop := f.ops["shopdev"]
	legit := mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "3"))
	deliver(t, []*Envelope{legit}, b, stale)

	// The stale replica never hears of the removal: the key writes there, backdated.
	early := mustWrite(t, stale, shop, set(KindWorkload, "shop/web", "replicas", "99"))
	deliver(t, []*Envelope{early}, b) // b holds it before the removal

	removal, _, err := a.Write(f.admins[0], []Op{{Type: OpDelete, Kind: KindCharter, Field: "operator/shopdev/key"}}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	late := mustWrite(t, stale, shop, set(KindWorkload, "shop/db", "replicas", "7"))
	deliver(t, []*Envelope{removal, late}, b)
	deliver(t, []*Envelope{early, late}, a)

	for _, r := range []*Replica{a, b} {
		for _, e := range []*Envelope{early, late} {
			if !r.Has(e.ID) || !r.Void(e.ID) {
				t.Errorf("%s: backdated change %s held %v, void %v: want held and void", r, e.ID, r.Has(e.ID), r.Void(e.ID))
			}
		}
		if r.Void(legit.ID) {
			t.Errorf("%s: the change the removal builds on is void", r)
		}
		if v, ok := r.Get(KindWorkload, "shop/web", "replicas"); !ok || string(v.Bytes) != "3" {
			t.Errorf("%s: shop/web replicas %q, want the pre-removal 3", r, v.Bytes)
		}
		if _, ok := r.Get(KindWorkload, "shop/db", "replicas"); ok {
			t.Errorf("%s: shop/db written by the revoked key is in the state", r)
		}
	}
	replicasAgree(t, a, b)

	// A change by the revoked key on top of its removal is invalid.
	c := a.Prepare([]Op{set(KindWorkload, "shop/web", "replicas", "1")}, nil)
	env, err := Sign(c, nil, shop)
	if err != nil {
		t.Fatal(err)
	}
	if res := a.Receive(env.Encode()); len(res.Rejected) != 1 || !errors.Is(res.Rejected[0].Err, ErrInvalid) {
		t.Fatalf("a change by the revoked key on its removal: %+v, want rejected", res)
	}
}

// Two admins rotated to new keys (a leaked backup held the old ones): the old keys, a
// quorum of the genesis, sign on the genesis a change admitting a rogue EU site and an
// operator of every namespace. The change is valid in its past and void everywhere that
// holds the rotation; so is everything the rogue operator writes; the rogue site is no
// member, so no body is released to it.
func TestRotatedAdminsForkTheGenesis(t *testing.T) {
	f := newFed(t)
	eu, us := f.replica(t, "eu-west"), f.replica(t, "us-east")
	fork := f.replica(t, "") // the attacker's: the genesis only
	ada2, bob2 := key("ada rotated"), key("bob rotated")
	rotation, _, err := eu.Write(f.admins[0], []Op{
		{Type: OpSet, Kind: KindCharter, Field: "admin/ada", Value: ada2.pub[:]},
		{Type: OpSet, Kind: KindCharter, Field: "admin/bob", Value: bob2.pub[:]},
	}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("kind: Secret\ndata: {password: c2VjcmV0}")
	secret, _, err := eu.Write(f.ops["root"], []Op{set(KindWorkload, "bank/vault", "bound", "EU"), SealOp(KindWorkload, "bank/vault", "template", body)}, [][]byte{body}, []string{"EU"})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, []*Envelope{rotation, secret}, us)

	rogueSite, rogueOp := key("rogue site"), key("rogue operator")
	coup, _, err := fork.Write(f.admins[0], CharterSpec{
		Sites:     []SiteInfo{{Name: "eu-rogue", Key: rogueSite.Public(), Region: "eu-x", Jurisdiction: "EU"}},
		Operators: []OperatorInfo{{Name: "rogue", Key: rogueOp.Public(), Namespaces: []string{"*"}}},
	}.Ops(), nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	grab := mustWrite(t, fork, rogueOp, set(KindWorkload, "bank/vault", "replicas", "0"))
	deliver(t, []*Envelope{coup, grab}, eu, us)

	for _, r := range []*Replica{eu, us} {
		if !r.Void(coup.ID) || !r.Void(grab.ID) {
			t.Errorf("%s: coup void %v, rogue write void %v: want both void", r, r.Void(coup.ID), r.Void(grab.ID))
		}
		ch := r.Charter()
		if _, ok := ch.SiteByName("eu-rogue"); ok || ch.Member(rogueOp.Public()) {
			t.Errorf("%s: the rogue site or operator is in the charter in force", r)
		}
		if _, ok := ch.Admins[ada2.Public()]; !ok {
			t.Errorf("%s: the rotation does not take effect", r)
		}
		if _, ok := r.Get(KindWorkload, "bank/vault", "replicas"); ok {
			t.Errorf("%s: the rogue operator's write is in the state", r)
		}
	}
	sent := false
	eu2 := f.replica(t, "eu-west")
	eu2.cfg.BodySent = func(Hash, PubKey, []string) { sent = true }
	deliver(t, []*Envelope{rotation, secret, coup, grab}, eu2)
	raw, _ := eu2.EnvelopeFor(secret.ID, rogueSite.Public())
	if env, err := DecodeEnvelope(raw); err != nil || len(env.Bodies) != 0 || sent {
		t.Fatalf("the rogue site was given the body of a bounded change (bodies %d, audited %v, err %v)", len(env.Bodies), sent, err)
	}
	replicasAgree(t, eu, us, eu2)

	// The old keys cannot sign on the rotation either.
	c := eu.Prepare([]Op{set(KindCharter, "", "name", "coup")}, nil)
	env, err := Sign(c, nil, f.admins[0], f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	if res := eu.Receive(env.Encode()); len(res.Rejected) != 1 {
		t.Fatalf("old admin keys signing on the rotation: %+v, want rejected", res)
	}
}

// Two concurrent charter changes, each signed by a quorum that the other removes: both
// are void (remove wins), both sets of admin keys are dead, every replica agrees whatever
// the order, and the sites and operators of the charter are untouched.
func TestMutualRevocationRemoveWins(t *testing.T) {
	f := newFed(t)
	x, y := f.replica(t, "eu-west"), f.replica(t, "us-east")
	ada, bob, cy := f.admins[0], f.admins[1], f.admins[2]
	// x: ada and bob remove cy; y: bob and cy rotate ada.
	r1, _, err := x.Write(ada, []Op{{Type: OpDelete, Kind: KindCharter, Field: "admin/cy"}}, nil, nil, bob)
	if err != nil {
		t.Fatal(err)
	}
	r2, _, err := y.Write(cy, []Op{{Type: OpSet, Kind: KindCharter, Field: "admin/ada", Value: key("ada 2").pub[:]}}, nil, nil, bob)
	if err != nil {
		t.Fatal(err)
	}
	w := mustWrite(t, y, f.sites["us-east"], set(KindSite, "us-east", "version", "2"))
	deliver(t, []*Envelope{r1}, y)
	deliver(t, []*Envelope{r2, w}, x)
	fresh := f.replica(t, "")
	deliver(t, []*Envelope{r2, w, r1}, fresh)
	replicasAgree(t, x, y, fresh)
	for _, r := range []*Replica{x, y, fresh} {
		if !r.Void(r1.ID) || !r.Void(r2.ID) {
			t.Errorf("%s: r1 void %v, r2 void %v: want both", r, r.Void(r1.ID), r.Void(r2.ID))
		}
		if r.Void(w.ID) {
			t.Errorf("%s: a site's write concurrent with the conflict is void", r)
		}
		if !slices.Equal(r.Charter().SiteNames(), []string{"ap-south", "eu-north", "eu-west", "us-east"}) {
			t.Errorf("%s: sites %v", r, r.Charter().SiteNames())
		}
	}
	// ada's key is dead (r2 revoked it), and so is cy's (r1): no two live admins remain.
	c := x.Prepare([]Op{set(KindCharter, "", "name", "after")}, nil)
	env, err := Sign(c, nil, ada, bob)
	if err != nil {
		t.Fatal(err)
	}
	if res := x.Receive(env.Encode()); len(res.Rejected) != 1 {
		t.Fatalf("a dead admin cosigning: %+v, want rejected", res)
	}
}

// A site whose key the charter rotates keeps the bodies of its jurisdiction, before it
// switches to the new key and after: it is the same site.
func TestRotatedSiteKeepsBodies(t *testing.T) {
	f := newFed(t)
	eu := f.replica(t, "eu-west")
	body := []byte("secret")
	env, _, err := eu.Write(f.ops["root"], []Op{set(KindWorkload, "bank/vault", "bound", "EU"), SealOp(KindWorkload, "bank/vault", "template", body)}, [][]byte{body}, []string{"EU"})
	if err != nil {
		t.Fatal(err)
	}
	next := key("eu-west next")
	if _, _, err := eu.Write(f.admins[0], []Op{{Type: OpSet, Kind: KindCharter, Field: "site/eu-west/key", Value: next.pub[:]}}, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
	if !eu.HoldsBodies(env.ID) || eu.Lacking() != 0 {
		t.Fatalf("after the rotation, before the switch: holds the body %v, lacking %d", eu.HoldsBodies(env.ID), eu.Lacking())
	}
	eu.SetSelf(next.Public())
	if !eu.HoldsBodies(env.ID) || !eu.Inside([]string{"EU"}) {
		t.Fatalf("after the switch: holds the body %v, inside EU %v", eu.HoldsBodies(env.ID), eu.Inside([]string{"EU"}))
	}
	// Removed from the charter, it holds no body any more.
	if _, _, err := eu.Write(f.admins[0], []Op{{Type: OpDelete, Kind: KindCharter, Field: "site/eu-west/key"}}, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
	if eu.HoldsBodies(env.ID) {
		t.Fatal("a site removed from the charter still holds the body")
	}
}
