package crdt

import (
	"slices"
	"strings"
)

// oracleCharters decides, from scratch and by the letter of docs/adr/0009-revocation.md,
// which changes of a history are void, and returns with them the charter that the causal
// past of some changes (themselves included) forms. changes are valid and in a causal
// order, the genesis first. It shares with the replica only the charter's register
// parsing (newCharter) and the validity rules (checkAuthority); the revocation logic is
// written again, with whole ancestor sets and no caching.
func oracleCharters(changes []*Envelope) (map[Hash]bool, func(...Hash) *Charter) {
	anc := ancestors(changes)
	var charters []*Envelope
	for _, e := range changes {
		if e.Change.IsCharter() {
			charters = append(charters, e)
		}
	}
	type verdict struct {
		charter *Charter
		dead    map[PubKey][]Hash
		void    map[Hash]bool
	}
	lww := func(set []*Envelope, void map[Hash]bool) *Charter {
		o := &object{}
		for _, e := range set {
			if void[e.ID] {
				continue
			}
			for i := range e.Change.Ops {
				id := e.ID
				o.apply(&e.Change.Ops[i], stamp{lamport: e.Change.Lamport, id: &id, op: uint32(i)}, e.Change.Ops[i].Field)
			}
		}
		return newCharter(o)
	}
	signers := func(c *Change) []PubKey {
		out := []PubKey{c.Author}
		for _, cs := range c.Cosigs {
			out = append(out, cs.Key)
		}
		return out
	}
	roles := func(ch *Charter, k PubKey) []string {
		var out []string
		if _, ok := ch.Admins[k]; ok {
			out = append(out, "admin")
		}
		if _, ok := ch.Sites[k]; ok {
			out = append(out, "site")
		}
		if _, ok := ch.Operators[k]; ok {
			out = append(out, "operator")
		}
		if _, ok := ch.Observers[k]; ok {
			out = append(out, "observer")
		}
		return out
	}
	memo := map[string]*verdict{}
	var decide func(set []*Envelope) *verdict
	// revoked returns the keys charter change e takes a role from, by role.
	revoked := func(e *Envelope) (admins, others []PubKey) {
		var pre []*Envelope
		for _, x := range charters {
			if x.ID != e.ID && anc[e.ID][x.ID] {
				pre = append(pre, x)
			}
		}
		before := decide(pre).charter
		after := lww(append(slices.Clip(pre), e), decide(pre).void)
		for _, k := range append(append(append(keysOf(before.Admins), keysOf(before.Sites)...), keysOf(before.Operators)...), keysOf(before.Observers)...) {
			for _, role := range roles(before, k) {
				if !slices.Contains(roles(after, k), role) {
					if role == "admin" {
						admins = append(admins, k)
					} else {
						others = append(others, k)
					}
				}
			}
		}
		return admins, others
	}
	decide = func(set []*Envelope) *verdict {
		var ids []string
		for _, e := range set {
			ids = append(ids, e.ID.Hex())
		}
		name := strings.Join(ids, ",")
		if v, ok := memo[name]; ok {
			return v
		}
		v := &verdict{dead: map[PubKey][]Hash{}, void: map[Hash]bool{}}
		for _, e := range set {
			if len(e.Change.Deps) == 0 {
				continue
			}
			admins, _ := revoked(e)
			for _, k := range admins {
				v.dead[k] = append(v.dead[k], e.ID)
			}
		}
		for _, e := range set {
			if len(e.Change.Deps) == 0 {
				continue
			}
			for _, k := range signers(e.Change) {
				for _, rev := range v.dead[k] {
					if !anc[rev][e.ID] {
						v.void[e.ID] = true
					}
				}
			}
			if v.void[e.ID] {
				continue
			}
			var past []*Envelope
			for _, x := range set {
				if x.ID != e.ID && anc[e.ID][x.ID] {
					past = append(past, x)
				}
			}
			pre := lww(past, v.void)
			n := 0
			for _, k := range signers(e.Change) {
				if _, ok := pre.Admins[k]; ok {
					n++
				}
			}
			if n < len(signers(e.Change)) || n < pre.Threshold {
				v.void[e.ID] = true
			}
		}
		v.charter = lww(set, v.void)
		for _, e := range set {
			if len(e.Change.Deps) == 0 || v.void[e.ID] {
				continue
			}
			_, others := revoked(e)
			for _, k := range others {
				v.dead[k] = append(v.dead[k], e.ID)
			}
		}
		memo[name] = v
		return v
	}
	all := decide(charters)
	out := map[Hash]bool{}
	for _, e := range changes {
		if e.Change.IsCharter() {
			if all.void[e.ID] {
				out[e.ID] = true
			}
			continue
		}
		for _, rev := range all.dead[e.Change.Author] {
			if !anc[rev][e.ID] {
				out[e.ID] = true
			}
		}
		if out[e.ID] {
			continue
		}
		var past []*Envelope
		for _, x := range charters {
			if anc[e.ID][x.ID] {
				past = append(past, x)
			}
		}
		if checkAuthority(e.Change, lww(past, all.void)) != nil {
			out[e.ID] = true
		}
	}
	charterOf := func(ids ...Hash) *Charter {
		var past []*Envelope
		for _, x := range charters {
			for _, id := range ids {
				if anc[id][x.ID] {
					past = append(past, x)
					break
				}
			}
		}
		return decide(past).charter
	}
	return out, charterOf
}

func keysOf[V any](m map[PubKey]V) []PubKey {
	out := make([]PubKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortKeys(out)
	return out
}

// ancestors returns, for each change of a causal order, its causal past, itself included.
func ancestors(changes []*Envelope) map[Hash]map[Hash]bool {
	anc := map[Hash]map[Hash]bool{}
	for _, e := range changes {
		a := map[Hash]bool{e.ID: true}
		for _, d := range e.Change.Deps {
			for x := range anc[d] {
				a[x] = true
			}
		}
		anc[e.ID] = a
	}
	return anc
}
