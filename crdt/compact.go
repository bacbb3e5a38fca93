package crdt

import "slices"

// Compaction in memory (docs/adr/0010-soft-state.md, decision 2). A stable non-charter
// change whose every op is shadowed (a stable change has a later op on its field, or a
// later remove of its object) will never count in the state again (shadow.go). The
// replica then keeps only its skeleton: its id, Lamport time, dependencies, charter set,
// usage and author, which is all that validating and voiding later changes read. Its
// header and bodies stay in the caller's data file, and the replica reads them back
// through Config.Archive when a peer asks for the change. Without an archive nothing is
// compacted.
//
// Every site holds a stable change, so a correct site never needs a skeleton's bytes;
// observers and replicas restored from old backups may, which is why they are kept on
// disk until skeleton certificates exist (the ADR).

// compactEvery is how many changes must have become stable since the last sweep, at
// least, before the next: a sweep decodes every stable change held whole, so sweeps
// come at most once per eighth of that number.
const compactEvery = 256

// maybeCompact sweeps when enough changes became stable since the last sweep.
func (r *Replica) maybeCompact() {
	if r.cfg.Archive == nil {
		return
	}
	s := r.stab
	every := r.cfg.CompactEvery
	if every <= 0 {
		every = compactEvery
	}
	if s.stable-s.swept < max(every, (s.stable-r.skeletons)/8) {
		return
	}
	s.swept = s.stable
	r.compact()
}

// compact reduces every shadowed change to its skeleton and returns how many it reduced.
func (r *Replica) compact() int {
	tops := newShadows()
	var whole []*node
	var changes []*Change
	for _, n := range r.order {
		if n.skel || n.cn != nil || r.stab.unstable[n] != nil {
			continue
		}
		if _, lacking := r.lacking[n.id]; lacking {
			continue // its bodies are still to come, and must reach the archive
		}
		c := n.change()
		tops.add(c, &n.id)
		whole, changes = append(whole, n), append(changes, c)
	}
	reduced := 0
	for i, n := range whole {
		c := changes[i]
		shadowed := true
		for j := range c.Ops {
			if !tops.shadowed(c, &n.id, j) {
				shadowed = false
				break
			}
		}
		if shadowed {
			n.skel, n.filed, n.bodySz = true, n.bodies() != nil, uint32(bodyBytes(n.bodies()))
			r.skelDirty = append(r.skelDirty, n)
			n.header = slices.Clone(n.header[:33]) // the format version and the author
			n.setBodies(nil)
			reduced++
		}
	}
	r.skeletons += reduced
	return reduced
}

// full returns n with its header and bodies as the replica holds them: n itself, or for
// a skeleton a copy read back from the archive (nil if the archive lacks it).
func (r *Replica) full(n *node) *node {
	if !n.skel {
		return n
	}
	env, ok := r.cfg.Archive(n.id)
	if !ok || env.ID != n.id {
		return nil
	}
	cp := *n
	cp.header = env.Header
	if n.sp != nil {
		sp := sealedPart{bound: n.sp.bound}
		if n.filed { // bodies the replica no longer holds may linger in the archive
			sp.bodies = env.Bodies
		}
		cp.sp = &sp
	}
	return &cp
}

// SkeletonLen returns how many changes held are skeletons.
func (r *Replica) SkeletonLen() int { return r.skeletons }
