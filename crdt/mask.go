package crdt

// Voiding changes held (docs/adr/0009-revocation.md): the state is the operations of the
// changes held that are not void under the charter of everything held.

// effEntry is the charter a causal past forms under the charter of everything held.
type effEntry struct {
	charter *Charter
	same    bool // the same as the past's own charter, which validated its changes
}

// effOf returns the charter that the charter changes of s form when v, the charter of
// everything held, decides which take effect.
func (r *Replica) effOf(s *cset, v *charterView) effEntry {
	if r.effView != v {
		r.effView, r.eff = v, map[*cset]effEntry{}
	}
	if e, ok := r.eff[s]; ok {
		return e
	}
	own := r.viewOf(s)
	c := r.charterUnder(s, v)
	e := effEntry{charter: c, same: c == own.charter}
	r.eff[s] = e
	return e
}

// voidNew reports whether non-charter change c, just stored as n, is void under the
// charter of everything held: its author is dead, or its authority came from a charter
// change that does not take effect.
func (r *Replica) voidNew(n *node, c *Change) bool {
	v := r.viewOf(r.all)
	if len(v.dead[n.author()]) > 0 { // n is in no revoking change's past: it is new
		return true
	}
	e := r.effOf(n.cset, v)
	return !e.same && checkAuthority(c, e.charter) != nil
}

// voidHeld is voidNew for a change held before v was decided.
func (r *Replica) voidHeld(n *node, v *charterView) bool {
	if n.cn != nil {
		return v.void[n]
	}
	if n.skel {
		return n.masked // its ops are shadowed: whether it is void no longer changes the state
	}
	if v.deadOutside(n.author(), n, r) != nil {
		return true
	}
	e := r.effOf(n.cset, v)
	if e.same {
		return false
	}
	c, err := DecodeChange(n.header)
	return err != nil || checkAuthority(c, e.charter) != nil
}

// remask decides again which changes held are void, after a charter change arrived while
// some charter change revokes a key, and rebuilds the state when that changed.
func (r *Replica) remask() {
	v := r.viewOf(r.all)
	last := r.order[len(r.order)-1] // the charter change that just arrived
	changed := false
	for _, n := range r.order {
		if m := r.voidHeld(n, v); m != n.masked {
			n.masked = m
			changed = changed || n != last
			if m {
				r.masked++
			} else {
				r.masked--
			}
		}
	}
	switch {
	case changed:
		r.rebuildState()
	case !last.masked:
		r.state.applyChange(last.cn.ch, &last.id)
	}
}

// rebuildState applies again every change held that is not void, in causal order, but
// for the ops stable void changes shadow (shadow.go).
func (r *Replica) rebuildState() {
	r.state = newState()
	r.shadow = newShadows()
	for _, n := range r.order {
		if n.masked && n.cn == nil && !n.skel && r.Stable(n.id) {
			r.shadow.add(n.change(), &n.id)
		}
	}
	for _, n := range r.order {
		if n.masked || n.skel { // a skeleton's ops are all shadowed
			continue
		}
		c := n.change()
		if n.cn != nil || r.shadow.empty() || !r.Stable(n.id) {
			r.state.applyChange(c, &n.id)
			continue
		}
		r.state.applyExcept(c, &n.id, func(i int) bool { return r.shadow.shadowed(c, &n.id, i) })
	}
}

// checkDead rejects a change not yet stored whose author or a cosigner is a key that a
// charter change of its past revoked: a revoked key is dead for every later change.
func checkDead(c *Change, v *charterView, r *Replica) error {
	if len(v.dead) == 0 {
		return nil
	}
	if rev := v.deadOutside(c.Author, nil, r); rev != nil {
		return invalid("author %s was revoked by charter change %s", c.Author, rev.id)
	}
	for _, cs := range c.Cosigs {
		if rev := v.deadOutside(cs.Key, nil, r); rev != nil {
			return invalid("cosigner %s was revoked by charter change %s", cs.Key, rev.id)
		}
	}
	return nil
}

// Void reports whether a change held is void: valid in its causal past but without
// effect, because a charter change revoked its author (and it is not in that change's
// past) or its authority came from a void charter change.
func (r *Replica) Void(id Hash) bool {
	n, ok := r.nodes[id]
	return ok && n.masked
}

// VoidLen returns the number of changes held that are void.
func (r *Replica) VoidLen() int { return r.masked }

// admitRevoked refuses, at admission from a client, a change signed by a key that a
// charter change held here revoked: stored, it would be void (or, on the revocation,
// invalid) at every correct replica.
func (r *Replica) admitRevoked(c *Change) error {
	if r.all == nil || !r.all.revokes {
		return nil
	}
	v := r.viewOf(r.all)
	signers := []PubKey{c.Author}
	for _, cs := range c.Cosigs {
		signers = append(signers, cs.Key)
	}
	for _, k := range signers {
		if revs := v.dead[k]; len(revs) > 0 {
			return because(ReasonAuthority, invalid("key %s was revoked by charter change %s: what it signs has no effect", k, revs[0].id))
		}
	}
	return nil
}
