package crdt

import (
	"testing"
)

// stableOracle decides stability from its definition, by brute force over a replica's
// DAG: a change is stable when every site of the charter of its past, except sites
// removed by a stable charter change (and those a charter change removes, for itself),
// has a change with it in its causal past. It reads the charters the replica computed
// for each past (tested on their own) and nothing of its bookkeeping.
func stableOracle(r *Replica) map[Hash]bool {
	nodes := r.order
	past := map[*node]map[*node]bool{} // inclusive causal past
	for _, n := range nodes {          // a causal order: dependencies first
		p := map[*node]bool{n: true}
		for _, d := range n.deps {
			for x := range past[d] {
				p[x] = true
			}
		}
		past[n] = p
	}
	siteOf := func(n *node) string {
		if s, ok := r.viewOf(n.cset).charter.Sites[n.author()]; ok {
			return s.Name
		}
		return ""
	}
	acked := map[*node]map[string]bool{}
	for _, z := range nodes {
		if name := siteOf(z); name != "" {
			for y := range past[z] {
				if acked[y] == nil {
					acked[y] = map[string]bool{}
				}
				acked[y][name] = true
			}
		}
	}
	stable := map[Hash]bool{}
	for {
		removed := map[string]bool{}
		for _, c := range nodes {
			if c.cn != nil && c.cn.pre != nil && stable[c.id] {
				after := r.viewOf(c.cset).charter
				for name := range r.viewOf(c.cn.pre).charter.byName {
					if _, ok := after.byName[name]; !ok {
						removed[name] = true
					}
				}
			}
		}
		grew := false
		for _, y := range nodes {
			if stable[y.id] {
				continue
			}
			ok := true
			for name := range r.viewOf(y.cset).charter.byName {
				if !removed[name] && !acked[y][name] {
					ok = false
					break
				}
			}
			if ok {
				stable[y.id], grew = true, true
			}
		}
		if !grew {
			return stable
		}
	}
}

func checkStable(t *testing.T, seed uint64, r *Replica, want map[Hash]bool) {
	t.Helper()
	n := 0
	for _, x := range r.order {
		if got := r.Stable(x.id); got != want[x.id] {
			t.Fatalf("seed %d: %s: change %s (Lamport %d) stable %v, the definition says %v", seed, r, x.id, x.lamport, got, want[x.id])
		}
		if want[x.id] {
			n++
		}
	}
	if r.StableLen() != n {
		t.Fatalf("seed %d: %s counts %d stable changes, holds %d", seed, r, r.StableLen(), n)
	}
}

// TestStableMatchesDefinition: whatever the order changes arrive in, a replica marks
// stable exactly the changes the definition makes stable, through site additions,
// removals, key rotations and revocations the generator writes.
func TestStableMatchesDefinition(t *testing.T) {
	stable, unstable, removals := 0, 0, 0
	for _, seed := range seeds(40) {
		g := generate(t, seed, 80)
		if seed%2 == 0 { // every site then acknowledges what one replica holds
			g.mergeAll()
			g.ackAll(g.reps[0])
		}
		ref := feedInOrder(t, seed, g.h, "")
		want := stableOracle(ref)
		checkStable(t, seed, ref, want)
		for range 3 {
			r := feedShuffled(t, seed, g.rng, g.h, "eu-west")
			checkStable(t, seed, r, want)
		}
		for _, x := range ref.order {
			if want[x.id] {
				stable++
			} else {
				unstable++
			}
		}
		if len(ref.stab.removed) > 0 {
			removals++
		}
	}
	t.Logf("%d stable, %d not; %d histories with a stable removal", stable, unstable, removals)
	if *onlySeed == 0 && (stable < 100 || unstable < 100 || removals < 3) {
		t.Fatalf("the histories did not exercise stability: %d stable, %d not, %d with a stable removal", stable, unstable, removals)
	}
}

// ackAll has every site of r's charter write a change at r: each acknowledges all r holds.
func (g *generator) ackAll(r *Replica) {
	for _, name := range r.Charter().SiteNames() {
		info, _ := r.Charter().SiteByName(name)
		g.mustWrite(r, g.keys[info.Key], []Op{g.op(KindSite, name, genSiteFields)}, nil, nil)
	}
}
