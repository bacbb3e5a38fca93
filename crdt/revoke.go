package crdt

import (
	"crypto/sha256"
	"slices"
)

// Revocation (docs/adr/0009-revocation.md).
//
// A charter change R revokes a key when the key holds a role in the charter R builds on
// and no longer holds it after R (a removal, or a rotation to another key). From then on
// the key is dead outside R's causal past: every change it signs that R does not build
// on is void, whether it arrived before R or after, and so is every change whose
// authority came only from a void charter change. Validity still depends only on the
// causal past (a change is stored or rejected the same way everywhere); voiding is an
// overlay on the stored DAG, a deterministic function of the set of changes held, so
// correct replicas that hold the same changes have the same state.
//
// The charter of a set P of charter changes (a causal past, or everything held):
//
//   - an admin key revoked by any change of P is dead outside that change's past, even if
//     the revoking change is itself void (a revoked key cannot veto its revocation, and
//     two quorums revoking each other both lose: remove wins);
//   - a charter change takes effect when none of its signers is dead outside its past and
//     its signers meet the threshold of the charter formed by the changes of its past that
//     take effect;
//   - the charter is the last-writer-wins merge of the operations of the changes that
//     take effect, and keys a change that takes effect removes from the site, operator or
//     observer roles are dead outside its past too.
//
// Admin revocations count from every change and the others only from changes that take
// effect, so the definition has no cycle: which charter changes take effect is decided in
// causal order once the dead admins are known.

// cset is the set of charter changes in a causal past (a charter change's own set
// includes it), shared by the changes that have the same one.
type cset struct {
	nodes   []*node // by seq, a causal order
	key     Hash    // names the set: the hash of its ids in seq order
	revokes bool    // some change of the set revokes a key
	view    *charterView
}

// charterView is the charter of a cset: the charter in force, the dead keys, and which
// changes take effect.
type charterView struct {
	charter *Charter
	dead    map[PubKey][]*node // key -> the charter changes that revoked it
	void    map[*node]bool     // charter changes of the set that do not take effect
}

// deadOutside reports the revoking change if k is dead outside its past and n (a stored
// node, or nil for a change not stored yet) is not in that past.
func (v *charterView) deadOutside(k PubKey, n *node, r *Replica) *node {
	for _, rev := range v.dead[k] {
		if n == nil || !r.inPast(rev, n) {
			return rev
		}
	}
	return nil
}

func newCset(nodes []*node) *cset {
	h := sha256.New()
	s := &cset{nodes: nodes}
	for _, n := range nodes {
		h.Write(n.id[:])
		s.revokes = s.revokes || len(n.cn.revAdmins)+len(n.cn.revOthers) > 0
	}
	h.Sum(s.key[:0])
	return s
}

// csetOf returns the charter changes in the causal past formed by deps.
func (r *Replica) csetOf(deps []*node) *cset {
	s := deps[0].cset
	for _, d := range deps[1:] {
		if d.cset == s {
			continue
		}
		a, b := s, d.cset
		if b.key.Less(a.key) {
			a, b = b, a
		}
		k := [2]Hash{a.key, b.key}
		u, ok := r.unions[k]
		if !ok {
			u = r.intern(mergeSeq(a.nodes, b.nodes))
			r.unions[k] = u
		}
		s = u
	}
	return s
}

// intern returns the shared cset of those nodes.
func (r *Replica) intern(nodes []*node) *cset {
	s := newCset(nodes)
	if old, ok := r.csets[s.key]; ok {
		return old
	}
	r.csets[s.key] = s
	return s
}

func mergeSeq(a, b []*node) []*node {
	out := make([]*node, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].seq < b[j].seq):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].seq < a[i].seq:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// viewOf returns the charter of a cset, computing it once.
func (r *Replica) viewOf(s *cset) *charterView {
	if s.view == nil {
		s.view = r.computeView(s)
	}
	return s.view
}

// computeView decides the charter of set, the charter changes of a causal past. When no
// change of the set revokes anything, every change takes effect.
func (r *Replica) computeView(set *cset) *charterView {
	v := &charterView{dead: map[PubKey][]*node{}, void: map[*node]bool{}}
	nodes := set.nodes
	for _, n := range nodes {
		for _, k := range n.cn.revAdmins {
			v.dead[k] = append(v.dead[k], n)
		}
	}
	for _, n := range nodes {
		if len(n.deps) == 0 { // the genesis
			continue
		}
		if len(v.dead) > 0 && v.signerDead(n, r) {
			v.void[n] = true
			continue
		}
		if !set.revokes {
			continue
		}
		if checkAdmins(n.cn.ch, r.charterUnder(n.cn.pre, v)) != nil {
			v.void[n] = true
		}
	}
	v.charter = r.charterOfView(set, v)
	for _, n := range nodes {
		if v.void[n] {
			continue
		}
		for _, k := range n.cn.revOthers {
			v.dead[k] = append(v.dead[k], n)
		}
	}
	return v
}

// signerDead reports whether the author or a cosigner of charter change n is a dead
// admin outside n's past.
func (v *charterView) signerDead(n *node, r *Replica) bool {
	if v.deadOutside(n.cn.ch.Author, n, r) != nil {
		return true
	}
	for _, cs := range n.cn.ch.Cosigs {
		if v.deadOutside(cs.Key, n, r) != nil {
			return true
		}
	}
	return false
}

// charterOfView returns the charter of set under v, built on the charter of the past of
// set's last change when set is that past and the change (the common case: a charter
// change just arrived) and v voids the same changes of the past.
func (r *Replica) charterOfView(set *cset, v *charterView) *Charter {
	last := set.nodes[len(set.nodes)-1]
	if pre := last.cn.pre; pre != nil && len(pre.nodes) == len(set.nodes)-1 && !v.void[last] {
		if c := r.charterUnder(pre, v); c == r.viewOf(pre).charter {
			return c.withChange(last.cn.ch, &last.id)
		}
	}
	return r.effectiveCharter(set, v)
}

// charterUnder returns the charter the changes of s form when v decides which take
// effect: s's own charter when v voids the same changes of s as s's own view, else the
// merge of those v keeps. Every change of s must be decided in v already.
func (r *Replica) charterUnder(s *cset, v *charterView) *Charter {
	own := r.viewOf(s)
	for _, m := range s.nodes {
		if v.void[m] != own.void[m] {
			return r.effectiveCharter(s, v)
		}
	}
	return own.charter
}

// effectiveCharter merges the operations of the changes of s that v does not void. The
// result depends only on s and on which of its changes are void, so it is kept by both.
func (r *Replica) effectiveCharter(s *cset, v *charterView) *Charter {
	h := sha256.New()
	h.Write(s.key[:])
	for _, n := range s.nodes {
		if v.void[n] {
			h.Write(n.id[:])
		}
	}
	var k Hash
	h.Sum(k[:0])
	if c, ok := r.merges[k]; ok {
		return c
	}
	o := &object{}
	for _, n := range s.nodes {
		if v.void[n] {
			continue
		}
		for i, op := range n.cn.ch.Ops {
			o.apply(&op, stamp{lamport: n.lamport, id: &n.id, op: uint32(i)}, op.Field)
		}
	}
	c := newCharter(o)
	r.merges[k] = c
	return c
}

// revocations lists the keys charter change c takes a role from: admins of before that
// after does not list as admins, and sites, operators and observers likewise.
func revocations(before, after *Charter) (admins, others []PubKey) {
	admins = lost(before.Admins, after.Admins)
	others = append(lost(before.Sites, after.Sites), lost(before.Operators, after.Operators)...)
	others = append(others, lost(before.Observers, after.Observers)...)
	sortKeys(admins)
	sortKeys(others)
	return admins, others
}

// lost returns the keys of before that after does not have.
func lost[V any](before, after map[PubKey]V) []PubKey {
	var out []PubKey
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func sortKeys(ks []PubKey) {
	slices.SortFunc(ks, func(a, b PubKey) int { return compareHash((*Hash)(&a), (*Hash)(&b)) })
}

// inPast reports whether n is in the causal past of charter change rev (rev included).
// It is asked only of changes signed by a key rev revokes, and of charter changes: those
// are listed once per revoking change (its past never changes) and kept.
func (r *Replica) inPast(rev, n *node) bool {
	if n == rev {
		return true
	}
	if n.seq > rev.seq {
		return false
	}
	past, ok := r.pasts[rev]
	if !ok {
		keys := map[PubKey]bool{}
		for _, k := range rev.cn.revAdmins {
			keys[k] = true
		}
		for _, k := range rev.cn.revOthers {
			keys[k] = true
		}
		past = map[*node]bool{}
		seen := map[*node]bool{}
		stack := []*node{rev}
		for len(stack) > 0 {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range m.deps {
				if !seen[d] {
					seen[d] = true
					stack = append(stack, d)
					if d.cn != nil || keys[d.author()] {
						past[d] = true
					}
				}
			}
		}
		r.pasts[rev] = past
	}
	return past[n]
}
