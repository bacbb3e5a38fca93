package crdt

import "fmt"

// Shadowed ops (docs/adr/0010-soft-state.md, decision 2). An op of a stable non-charter
// change is shadowed when a stable change has a later op on the same field, or a later
// remove of its object. Shadowed ops never count in the state again, so compaction may
// forget them. Most never counted anyway: the later op wins. The rule changes the state
// only where the later op is void (ADR 0009: a revocation voids a stable change). The
// value it overwrote then does not come back, and the field is what the ops left make
// it. Stability and voids are functions of the set of changes held, so this is one too.
//
// So the replica tracks only the stable void changes' ops: for each field and object,
// the latest stamp among them. A stable op below it is left out.

type fieldRef struct {
	obj   objKey
	field string
}

type shadows struct {
	fields  map[fieldRef]stamp // latest op of a stable void change, per field
	removes map[objKey]stamp   // latest remove of a stable void change, per object
}

func newShadows() *shadows {
	return &shadows{fields: map[fieldRef]stamp{}, removes: map[objKey]stamp{}}
}

func (s *shadows) empty() bool { return len(s.fields) == 0 && len(s.removes) == 0 }

// add records the ops of c, a stable void change.
func (s *shadows) add(c *Change, id *Hash) {
	for i := range c.Ops {
		op := &c.Ops[i]
		st := stamp{lamport: c.Lamport, id: id, op: uint32(i)}
		k := objKey{op.Kind, op.Key}
		if op.Type == OpRemove {
			if old, ok := s.removes[k]; !ok || old.less(st) {
				s.removes[k] = st
			}
			continue
		}
		f := fieldRef{k, op.Field}
		if old, ok := s.fields[f]; !ok || old.less(st) {
			s.fields[f] = st
		}
	}
}

// shadowed reports whether op i of c, a stable change, is left out of the state.
func (s *shadows) shadowed(c *Change, id *Hash, i int) bool {
	op := &c.Ops[i]
	st := stamp{lamport: c.Lamport, id: id, op: uint32(i)}
	k := objKey{op.Kind, op.Key}
	if rm, ok := s.removes[k]; ok && st.less(rm) {
		return true
	}
	if op.Type == OpRemove {
		return false
	}
	top, ok := s.fields[fieldRef{k, op.Field}]
	return ok && st.less(top)
}

// change returns the decoded change of a node held whole, its header parsed without the
// checks it passed when it arrived.
func (n *node) change() *Change {
	if n.cn != nil {
		return n.cn.ch
	}
	c, err := parseChange(n.header)
	if err != nil {
		panic(fmt.Sprintf("crdt: stored change %s does not decode: %v", n.id, err))
	}
	return c
}

// noteStable updates the shadows for n, a non-charter change that just became stable,
// and asks for the state to be rebuilt if that changes it: n is void and its op is later
// than a stable op that wins now (for a remove, the object's removal or any of its
// fields), or n's op wins now and a stable void op is later.
func (r *Replica) noteStable(n *node) {
	if n.cn != nil || n.skel || (!n.masked && r.shadow.empty()) {
		return
	}
	c := n.change()
	if n.masked {
		r.shadow.add(c, &n.id)
		for i := range c.Ops {
			st := stamp{c.Lamport, &n.id, uint32(i)}
			if w, ok := r.winner(&c.Ops[i]); ok && w.id != nil && w.less(st) && r.Stable(*w.id) {
				r.needRebuild = true
				return
			}
			if c.Ops[i].Type == OpRemove && r.fieldBelow(&c.Ops[i], st) {
				r.needRebuild = true
				return
			}
		}
		return
	}
	for i := range c.Ops {
		w, ok := r.winner(&c.Ops[i])
		if ok && w.id != nil && *w.id == n.id && w.op == uint32(i) && r.shadow.shadowed(c, &n.id, i) {
			r.needRebuild = true
			return
		}
	}
}

// fieldBelow reports whether a field of op's object is decided now by a stable op
// earlier than st: a stable void remove at st shadows it, so it leaves the state.
func (r *Replica) fieldBelow(op *Op, st stamp) bool {
	o := r.state.objs[objKey{op.Kind, op.Key}]
	if o == nil {
		return false
	}
	for i := range o.fields {
		if w := o.fields[i].reg.st; w.id != nil && w.less(st) && r.Stable(*w.id) {
			return true
		}
	}
	return false
}

// winner returns the stamp that decides what op's field (or, for a remove, its object's
// removal) is in the state now.
func (r *Replica) winner(op *Op) (stamp, bool) {
	o := r.state.objs[objKey{op.Kind, op.Key}]
	if o == nil {
		return stamp{}, false
	}
	if op.Type == OpRemove {
		return o.removed, true
	}
	for i := range o.fields {
		if o.fields[i].name == op.Field {
			return o.fields[i].reg.st, true
		}
	}
	return stamp{}, false
}
