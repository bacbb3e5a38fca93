package crdt

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// ackAll has every site of the fixture acknowledge what r holds.
func ackAll(t *testing.T, f *fed, r *Replica) []*Envelope {
	t.Helper()
	var out []*Envelope
	for _, name := range []string{"eu-west", "eu-north", "us-east", "ap-south"} {
		out = append(out, mustWrite(t, r, f.sites[name], AckOps(name, "v1")...))
	}
	return out
}

// TestShadowedValueStaysGone: an operator's key writes a value over a legitimate one;
// every site acknowledges both (stable). A removal of the key that admins signed on an
// older past then voids the overwrite (ADR 0009). The value it overwrote does not come
// back (ADR 0010): it was shadowed by a stable change, and compaction may have forgotten
// it. Every replica decides alike, whatever the order the changes arrive in, including
// replicas that saw the removal before the overwrite became stable.
func TestShadowedValueStaysGone(t *testing.T) {
	f := newFed(t)
	a, old := f.replica(t, "eu-west"), f.replica(t, "")
	shop := f.ops["shopdev"]
	legit := mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "3"), set(KindWorkload, "shop/web", "labels/app", "web"))
	deliver(t, []*Envelope{legit}, old)
	over := mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "99"))
	acks := ackAll(t, f, a)
	if !a.Stable(legit.ID) || !a.Stable(over.ID) {
		t.Fatal("the acknowledged changes are not stable")
	}
	// The admins signed the removal on a past without the overwrite.
	removal, _, err := old.Write(f.admins[0], []Op{{Type: OpDelete, Kind: KindCharter, Field: "operator/shopdev/key"}}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, []*Envelope{removal}, a)
	if !a.Void(over.ID) {
		t.Fatal("the overwrite outside the removal's past is not void")
	}
	check := func(r *Replica) {
		t.Helper()
		if v, ok := r.Get(KindWorkload, "shop/web", "replicas"); ok {
			t.Fatalf("%s: replicas %q came back after the stable overwrite was voided", r, v.Bytes)
		}
		if v, ok := r.Get(KindWorkload, "shop/web", "labels/app"); !ok || string(v.Bytes) != "web" {
			t.Fatalf("%s: labels/app %q, want the field nothing overwrote", r, v.Bytes)
		}
	}
	check(a)
	all := append([]*Envelope{legit, over, removal}, acks...)
	inOrders(t, f, a, all, rand.New(rand.NewPCG(1, 2)), 20, false, check)
}

// inOrders offers every envelope of all to n fresh replicas of us-east, each in an order
// of its own (the first as given if keepFirst), and checks each against a.
func inOrders(t *testing.T, f *fed, a *Replica, all []*Envelope, rng *rand.Rand, n int, keepFirst bool, check func(*Replica)) {
	t.Helper()
	for i := range n {
		r := f.replica(t, "us-east")
		order := slices.Clone(all)
		if i > 0 || !keepFirst {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		msgs := make([][]byte, len(order))
		for i, e := range order {
			msgs[i] = e.Encode()
		}
		offerUntilSettled(r, msgs, func(Result) {})
		check(r)
		replicasAgree(t, a, r)
	}
}

// TestShadowNeedsStability: the same overwrite and removal, but one site never
// acknowledged the overwrite: it is not stable, so the value it overwrote comes back
// when it is voided, as ADR 0009 says.
func TestShadowNeedsStability(t *testing.T) {
	f := newFed(t)
	a, old := f.replica(t, "eu-west"), f.replica(t, "")
	shop := f.ops["shopdev"]
	legit := mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "3"))
	deliver(t, []*Envelope{legit}, old)
	mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "99"))
	for _, name := range []string{"eu-west", "eu-north", "us-east"} { // not ap-south
		mustWrite(t, a, f.sites[name], AckOps(name, "v1")...)
	}
	removal, _, err := old.Write(f.admins[0], []Op{{Type: OpDelete, Kind: KindCharter, Field: "operator/shopdev/key"}}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, []*Envelope{removal}, a)
	if v, ok := a.Get(KindWorkload, "shop/web", "replicas"); !ok || string(v.Bytes) != "3" {
		t.Fatalf("replicas %q, want 3 back: the overwrite was never stable", v.Bytes)
	}
	mustWrite(t, a, f.sites["ap-south"], AckOps("ap-south", "v1")...)
	if v, ok := a.Get(KindWorkload, "shop/web", "replicas"); ok {
		t.Fatalf("replicas %q once the void overwrite is stable, want none", v.Bytes)
	}
}

// TestPropertyShadowAnyOrder: histories where every site acknowledges what one replica
// holds while the others go on (rotating and removing keys on older pasts), so stable
// changes get voided. Any order of arrival gives the same replica, and the oracle, which
// applies the shadow rule from its definition, predicts its state.
func TestPropertyShadowAnyOrder(t *testing.T) {
	before := oracleShadowHistories
	for _, seed := range seeds(40) {
		g := newGenerator(t, seed)
		g.run(all(len(g.reps)), 40)
		g.ackAll(g.reps[0])
		g.run([]int{1, 2, 3}, 40)
		g.mergeAll()
		h := g.h
		o := newOracle(h.valid())
		ref := feedInOrder(t, seed, h, "")
		if err := o.check(ref, "", bodiesHeld); err != nil {
			t.Fatalf("seed %d: in creation order: %v", seed, err)
		}
		for range 2 {
			x := feedShuffled(t, seed, g.rng, h, "eu-west")
			if err := sameReplicas(x, ref); err != nil {
				t.Fatalf("seed %d: shuffled: %v", seed, err)
			}
			if err := o.check(x, jurisdictionOf(t, h.f, "eu-west"), bodiesHeld); err != nil {
				t.Fatalf("seed %d: shuffled: %v", seed, err)
			}
		}
	}
	n := oracleShadowHistories - before
	t.Logf("%d of 40 histories have stable void changes", n)
	if *onlySeed == 0 && n < 5 {
		t.Fatalf("only %d of 40 histories have stable void changes: the property was not exercised", n)
	}
}

// TestVoidRemoveShadowsFields: an operator's key sets two fields, every site
// acknowledges that (stable), then the key removes the object and every site
// acknowledges again. A removal of the key that admins signed on the older past voids
// the remove (ADR 0009), and the fields it removed do not come back (ADR 0010), whatever
// the order: in particular at a replica that holds the remove void before it becomes
// stable, which must rebuild its state then, or the fields stay until compaction drops
// the change that set them and a restart loses them (the simulator's seed 183).
func TestVoidRemoveShadowsFields(t *testing.T) {
	f := newFed(t)
	a, old := f.replica(t, "eu-west"), f.replica(t, "")
	shop := f.ops["shopdev"]
	legit := mustWrite(t, a, shop, set(KindWorkload, "shop/web", "replicas", "3"), set(KindWorkload, "shop/web", "labels/app", "web"))
	deliver(t, []*Envelope{legit}, old)
	acks1 := ackAll(t, f, a)
	remove := mustWrite(t, a, shop, Op{Type: OpRemove, Kind: KindWorkload, Key: "shop/web"})
	acks2 := ackAll(t, f, a)
	removal, _, err := old.Write(f.admins[0], []Op{{Type: OpDelete, Kind: KindCharter, Field: "operator/shopdev/key"}}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, []*Envelope{removal}, a)
	if !a.Void(remove.ID) || !a.Stable(remove.ID) {
		t.Fatal("the remove is not stable and void")
	}
	check := func(r *Replica) {
		t.Helper()
		if obj, ok := r.Object(KindWorkload, "shop/web"); ok {
			t.Fatalf("%s: shop/web came back with %v after its stable remove was voided", r, obj)
		}
	}
	check(a)
	// The order that found it: the fields stable, the key's removal, the remove (void on
	// arrival), then its acknowledgements.
	all := append(append(append([]*Envelope{legit}, acks1...), removal, remove), acks2...)
	inOrders(t, f, a, all, rand.New(rand.NewPCG(3, 4)), 40, true, check)
}
