package crdt

import (
	"bytes"
	"strings"
	"testing"
)

// archived is a replica with a data file: the envelopes it stored, as Result.Stored
// gave them, read back through Config.Archive.
type archived struct {
	*Replica
	file map[Hash]*Envelope
}

func (f *fed) archivedReplica(t testing.TB, site string) *archived {
	t.Helper()
	a := &archived{file: map[Hash]*Envelope{f.genesis.ID: f.genesis}}
	cfg := Config{Genesis: f.genesis.Encode(), Archive: func(id Hash) (*Envelope, bool) {
		e, ok := a.file[id]
		return e, ok
	}}
	if site != "" {
		cfg.Self = f.sites[site].Public()
	}
	r, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Replica = r
	return a
}

func (a *archived) receive(raw []byte) Result {
	res := a.Receive(raw)
	for _, e := range res.Stored {
		a.file[e.ID] = e
	}
	return res
}

// TestCompactionKeepsEverything: histories where every site acknowledged what one
// replica holds and more happened after. A replica that keeps its shadowed changes as
// skeletons holds the same state, heads and changes as one that keeps them whole, hands
// every change to a peer byte for byte as that one does, and a new replica catching up
// from it in a sync session ends the same.
func TestCompactionKeepsEverything(t *testing.T) {
	skeletons, histories := 0, 0
	for _, seed := range seeds(40) {
		g := newGenerator(t, seed)
		g.run(all(len(g.reps)), 60)
		g.mergeAll()
		g.ackAll(g.reps[0])
		g.run([]int{1, 2, 3}, 30)
		g.mergeAll()
		h := g.h
		ref := feedInOrder(t, seed, h, "eu-west")
		c := h.f.archivedReplica(t, "eu-west")
		for _, e := range h.envs {
			checkResult(t, seed, h, c.receive(e.Encode()))
		}
		n := c.compact()
		if n > 0 {
			histories++
		}
		skeletons += n
		if err := sameReplicas(c.Replica, ref); err != nil {
			t.Fatalf("seed %d: compacted %d: %v", seed, n, err)
		}
		if err := newOracle(h.valid()).check(c.Replica, jurisdictionOf(t, h.f, "eu-west"), bodiesHeld); err != nil {
			t.Fatalf("seed %d: compacted %d: %v", seed, n, err)
		}
		ref.Changes(func(id Hash, want []byte) bool {
			for _, peer := range []string{"eu-north", "us-east"} {
				a, _ := ref.EnvelopeFor(id, h.f.sites[peer].Public())
				b, ok := c.EnvelopeFor(id, h.f.sites[peer].Public())
				if !ok || !bytes.Equal(a, b) {
					t.Fatalf("seed %d: change %s for %s differs once compacted (held %v)", seed, id, peer, ok)
				}
			}
			return true
		})
		fresh := h.f.replica(t, "eu-north")
		runSync(t, fresh, c.Replica, seed)
		runSync(t, fresh, c.Replica, seed+1) // a change whose charter came in the first
		if fresh.Len() != c.Len() || fresh.Digest() != c.Digest() {
			t.Fatalf("seed %d: a new replica caught up from the compacted one holds %d changes (digest %s), want %d (%s)", seed, fresh.Len(), fresh.Digest(), c.Len(), c.Digest())
		}
		// The state is rebuilt (a revocation arrives) without the skeletons' ops.
		c.rebuildState()
		if c.Digest() != ref.Digest() {
			t.Fatalf("seed %d: rebuilt from skeletons, the state differs", seed)
		}
		// Restarted from its data file, skeletons in place of their changes, it is the
		// same replica.
		skels := map[Hash][]byte{}
		for _, sk := range c.TakeSkeletons() {
			skels[sk.ID] = sk.Data
		}
		if len(skels) != n {
			t.Fatalf("seed %d: %d skeletons to store, %d compacted", seed, len(skels), n)
		}
		back := h.f.archivedReplica(t, "eu-west")
		back.file = c.file
		for _, e := range h.envs {
			var err error
			if sk, ok := skels[e.ID]; ok {
				err = back.RestoreSkeleton(sk)
			} else if whole, ok := c.file[e.ID]; ok {
				err = back.Restore(whole.Encode())
			}
			if err != nil {
				t.Fatalf("seed %d: restoring %s: %v", seed, e.ID, err)
			}
		}
		if err := sameReplicas(back.Replica, ref); err != nil {
			t.Fatalf("seed %d: restarted from skeletons: %v", seed, err)
		}
		if back.StableLen() != c.StableLen() || back.SkeletonLen() != c.SkeletonLen() || back.VoidLen() != c.VoidLen() {
			t.Fatalf("seed %d: restarted: %d stable, %d skeletons, %d void; before %d, %d, %d", seed,
				back.StableLen(), back.SkeletonLen(), back.VoidLen(), c.StableLen(), c.SkeletonLen(), c.VoidLen())
		}
		ref.Changes(func(id Hash, want []byte) bool {
			peer := h.f.sites["us-east"].Public()
			a, _ := ref.EnvelopeFor(id, peer)
			if b, ok := back.EnvelopeFor(id, peer); !ok || !bytes.Equal(a, b) {
				t.Fatalf("seed %d: change %s for us-east differs after the restart", seed, id)
			}
			return true
		})
		// A change written now is valid alike at the restarted replica and the reference
		// (its causal past is read from skeletons there).
		if op := g.operator(ref, "root"); op != nil {
			env := mustWrite(t, ref, op, set(KindWorkload, "shop/after", "replicas", "1"))
			if res := back.Receive(env.Encode()); len(res.Stored) != 1 {
				t.Fatalf("seed %d: a new change on the restarted replica: %+v", seed, res)
			}
			if err := sameReplicas(back.Replica, ref); err != nil {
				t.Fatalf("seed %d: after a new change: %v", seed, err)
			}
		}
	}
	t.Logf("%d skeletons in %d of 40 histories", skeletons, histories)
	if *onlySeed == 0 && (histories < 10 || skeletons < 100) {
		t.Fatalf("compaction was not exercised: %d skeletons in %d histories", skeletons, histories)
	}
}

// TestRestoreSkeletonRefuses: a skeleton that does not fit what the replica holds is an
// error that names what is wrong, and nothing is held.
func TestRestoreSkeletonRefuses(t *testing.T) {
	f := newFed(t)
	c := f.archivedReplica(t, "")
	first := mustWrite(t, c.Replica, f.ops["root"], set(KindWorkload, "shop/x", "replicas", "1"))
	c.file[first.ID] = first
	w := mustWrite(t, c.Replica, f.ops["root"], set(KindWorkload, "shop/w", "replicas", "1"))
	c.file[w.ID] = w
	over := mustWrite(t, c.Replica, f.ops["root"], set(KindWorkload, "shop/w", "replicas", "2"))
	c.file[over.ID] = over
	for _, name := range []string{"eu-west", "eu-north", "us-east", "ap-south"} {
		e := mustWrite(t, c.Replica, f.sites[name], AckOps(name, "v")...)
		c.file[e.ID] = e
	}
	if c.compact() == 0 {
		t.Fatal("nothing compacted")
	}
	var sk []byte
	for _, s := range c.TakeSkeletons() {
		if s.ID == w.ID {
			sk = s.Data
		}
	}
	if sk == nil {
		t.Fatal("the overwritten change has no skeleton")
	}
	holder := f.replica(t, "") // holds the skeleton's dependency
	deliver(t, []*Envelope{first}, holder)
	for _, tc := range []struct {
		name, want string
		r          *Replica
		b          []byte
	}{
		{"its dependencies are not held", "before its dependency", f.replica(t, ""), sk},
		{"truncated", "truncated", holder, sk[:40]},
		{"trailing bytes", "trailing bytes", holder, append(append([]byte{}, sk...), 0)},
		{"another version", "version 9", holder, append([]byte{9}, sk[1:]...)},
	} {
		held := tc.r.Len()
		err := tc.r.RestoreSkeleton(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
		if tc.r.Len() != held {
			t.Fatalf("%s: the replica holds %d changes, %d before", tc.name, tc.r.Len(), held)
		}
	}
	if err := holder.RestoreSkeleton(sk); err != nil || !holder.Has(w.ID) {
		t.Fatalf("the skeleton itself: %v", err)
	}
}
