package crdt

// Stability (docs/adr/0010-soft-state.md, decision 2). A site's changes build on its
// heads, so each one acknowledges its whole causal past. A change is stable when every
// site of the charter of its own past has a change with it in its causal past (itself
// included), except sites removed by a stable charter change; a charter change that
// removes sites does not need them. Stability depends only on the set of changes held
// and only grows with it, so every correct replica decides it alike whatever the order
// of arrival. It is what compaction builds on: a stable change is held by every site.
//
// Bookkeeping: each change not yet stable has the set of sites that acknowledged it and
// the count of required sites still missing. A site's acknowledgements are closed
// downwards, so storing a change of site s walks its past and stops at changes s has
// already acknowledged or that are stable: each (change, site) pair is visited once.

// ackInfo is what a change not yet stable keeps for stability.
type ackInfo struct {
	acked []uint64 // bit i: site stable.names[i] acknowledged the change
	need  int      // required sites that have not
}

type stability struct {
	idx      map[string]int // site name -> bit
	unstable map[*node]*ackInfo
	removed  map[string]bool // sites removed by a stable charter change
	stable   int             // changes stable
	swept    int             // stable at the last compaction sweep (compact.go)
}

func newStability() *stability {
	return &stability{idx: map[string]int{}, unstable: map[*node]*ackInfo{}, removed: map[string]bool{}}
}

func (s *stability) bit(name string) int {
	i, ok := s.idx[name]
	if !ok {
		i = len(s.idx)
		s.idx[name] = i
	}
	return i
}

func (a *ackInfo) has(i int) bool { return i/64 < len(a.acked) && a.acked[i/64]&(1<<(i%64)) != 0 }

func (a *ackInfo) set(i int) {
	for i/64 >= len(a.acked) {
		a.acked = append(a.acked, 0)
	}
	a.acked[i/64] |= 1 << (i % 64)
}

// requires reports whether site name must acknowledge n for n to be stable.
func (r *Replica) requires(n *node, name string) bool {
	_, ok := r.viewOf(n.cset).charter.byName[name]
	return ok && !r.stab.removed[name]
}

// acknowledge records a change just stored: it is not stable yet (unless no site is
// required), and it acknowledges its causal past for its author's site.
func (r *Replica) acknowledge(n *node) {
	s := r.stab
	ch := r.viewOf(n.cset).charter
	info := &ackInfo{}
	for name := range ch.byName {
		if !s.removed[name] {
			info.need++
		}
	}
	s.unstable[n] = info
	if info.need == 0 {
		r.makeStable(n)
	}
	site, ok := ch.Sites[n.author()]
	if !ok {
		return
	}
	b := s.bit(site.Name)
	stack := []*node{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		a := s.unstable[x]
		if a == nil || a.has(b) {
			continue // stable, or already acknowledged by this site with all its past
		}
		a.set(b)
		if r.requires(x, site.Name) {
			if a.need--; a.need == 0 {
				r.makeStable(x)
			}
		}
		stack = append(stack, x.deps...)
	}
}

// makeStable marks n stable; a charter change that removes sites then stops requiring
// them of every change.
func (r *Replica) makeStable(n *node) {
	s := r.stab
	delete(s.unstable, n)
	s.stable++
	r.noteStable(n)
	if n.cn == nil || n.cn.pre == nil {
		return
	}
	before, after := r.viewOf(n.cn.pre).charter, r.viewOf(n.cset).charter
	var gone []string
	for name := range before.byName {
		if _, ok := after.byName[name]; !ok && !s.removed[name] {
			gone = append(gone, name)
		}
	}
	for _, name := range gone {
		s.removed[name] = true
	}
	if len(gone) == 0 {
		return
	}
	var now []*node
	for x, a := range s.unstable {
		ch := r.viewOf(x.cset).charter
		for _, name := range gone {
			if _, ok := ch.byName[name]; ok && !a.has(s.bit(name)) {
				a.need--
			}
		}
		if a.need == 0 {
			now = append(now, x)
		}
	}
	for _, x := range now {
		if s.unstable[x] != nil { // a cascade may have made it stable already
			r.makeStable(x)
		}
	}
}

// Stable reports whether the change with id is held and stable.
func (r *Replica) Stable(id Hash) bool {
	n, ok := r.nodes[id]
	return ok && r.stab.unstable[n] == nil
}

// NeedsAck reports whether a change held, not yet stable, is one site name has not
// acknowledged, leaving out other sites' acknowledgements (changes that only set their
// own site's version): acknowledging those would never end.
func (r *Replica) NeedsAck(name string) bool {
	s := r.stab
	b, ok := s.idx[name]
	for x, a := range s.unstable {
		if (!ok || !a.has(b)) && !r.ackOnly(x) {
			return true
		}
	}
	return false
}

// AckOps are the operations of an acknowledgement by site name: its release version,
// published again. Any change of a site acknowledges its causal past; a site that has
// nothing else to write writes this.
func AckOps(name, version string) []Op {
	return []Op{{Type: OpSet, Kind: KindSite, Key: name, Field: "version", Value: []byte(version)}}
}

// ackOnly reports whether n is an acknowledgement: a site's change that only sets its
// own version.
func (r *Replica) ackOnly(n *node) bool {
	if n.cn != nil || n.skel {
		return false
	}
	c, err := DecodeChange(n.header)
	if err != nil {
		return false
	}
	site, ok := r.viewOf(n.cset).charter.Sites[c.Author]
	if !ok {
		return false
	}
	for _, op := range c.Ops {
		if op.Kind != KindSite || op.Key != site.Name || op.Field != "version" {
			return false
		}
	}
	return true
}

// StableLen returns how many changes held are stable.
func (r *Replica) StableLen() int { return r.stab.stable }
