package crdt

import (
	"slices"
	"strings"
)

// Value is a field as this replica shows it.
type Value struct {
	Bytes    []byte // the value; nil when redacted
	Sealed   bool   // a body field of a bounded workload
	Redacted bool   // sealed, and this replica is outside the bound (or has not the body yet)
	BodyHash Hash   // for sealed fields: the hash every replica can see
	Lamport  uint64 // when it was written
	Change   Hash   // by which change
	Soft     uint64 // for soft fields held in a soft record: its Seq (Lamport and Change are zero)
}

// Get returns one visible field. A soft field comes from the object's soft record if one is
// held, and from the DAG otherwise (written there by an earlier release).
func (r *Replica) Get(kind Kind, key, field string) (Value, bool) {
	if IsSoft(kind, field) {
		if rec, _, ok := r.Soft(kind, key); ok {
			v, ok := rec.Get(field)
			return Value{Bytes: v, Soft: rec.Seq}, ok
		}
	}
	o, ok := r.state.objs[objKey{kind, key}]
	if !ok {
		return Value{}, false
	}
	reg, ok := o.get(field)
	if !ok {
		return Value{}, false
	}
	return r.value(reg), true
}

func (r *Replica) value(reg *register) Value {
	v := Value{Lamport: reg.st.lamport, Change: *reg.st.id}
	if reg.flags&regSealed == 0 {
		v.Bytes = reg.val
		return v
	}
	v.Sealed = true
	copy(v.BodyHash[:], reg.val)
	n := r.full(r.nodes[*reg.st.id]) // a winning op is never shadowed: the node is whole
	if n == nil || n.bodies() == nil {
		v.Redacted = true
		return v
	}
	c, err := DecodeChange(n.header)
	if err != nil {
		panic("crdt: stored header does not decode: " + err.Error())
	}
	for i, idx := range c.Sealed() {
		if idx == int(reg.st.op) {
			v.Bytes = n.bodies()[i]
		}
	}
	return v
}

// EachStatus calls fn with every visible status object, in no order, and a reader of its
// fields: what Keys and Get give for KindStatus, without sorting the keys, building a map
// per object or copying a record (a site holds a status object per workload and cluster,
// and its reconciler, planner and metrics read them all).
func (r *Replica) EachStatus(fn func(key string, fields StatusFields)) {
	for k, sr := range r.soft.recs {
		if k.kind == KindStatus && !sr.empty {
			fn(k.key, StatusFields{raw: sr.raw})
		}
	}
	for k, o := range r.state.objs { // written as DAG changes by an earlier release
		if k.kind == KindStatus && o.live() && !r.softHeld(k) {
			fn(k.key, StatusFields{r: r, o: o})
		}
	}
}

// StatusFields reads the fields of one status object during EachStatus.
type StatusFields struct {
	raw []byte // its soft record
	r   *Replica
	o   *object // or its DAG object
}

// Get returns a field's value, nil if the object lacks it. It is valid until the
// replica changes.
func (f StatusFields) Get(name string) []byte {
	if f.o == nil {
		return softField(f.raw, name)
	}
	if reg, ok := f.o.get(name); ok && reg.flags&regTomb == 0 {
		return f.r.value(reg).Bytes
	}
	return nil
}

// Object returns the visible fields of an object: its DAG fields, with its soft fields
// from its soft record if one is held. An object with a soft record of no fields and no
// DAG field is not visible.
func (r *Replica) Object(kind Kind, key string) (map[string]Value, bool) {
	o := r.state.objs[objKey{kind, key}]
	rec, _, soft := r.Soft(kind, key)
	if (o == nil || !o.live()) && (!soft || len(rec.Fields) == 0) {
		return nil, false
	}
	out := map[string]Value{}
	if o != nil {
		for i := range o.fields {
			f := &o.fields[i]
			if f.reg.flags&regTomb == 0 && !(soft && IsSoft(kind, f.name)) {
				out[f.name] = r.value(&f.reg)
			}
		}
	}
	if soft {
		for _, f := range rec.Fields {
			if IsSoft(kind, f.Name) { // a field of a later release is held, not shown
				out[f.Name] = Value{Bytes: f.Value, Soft: rec.Seq}
			}
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}

// InDAG reports whether the DAG holds a live object (soft records aside).
func (r *Replica) InDAG(kind Kind, key string) bool {
	o := r.state.objs[objKey{kind, key}]
	return o != nil && o.live()
}

// hardFields reports whether an object has a visible field that is not soft.
func (r *Replica) hardFields(k objKey) bool {
	o := r.state.objs[k]
	if o == nil {
		return false
	}
	for i := range o.fields {
		if o.fields[i].reg.flags&regTomb == 0 && !IsSoft(k.kind, o.fields[i].name) {
			return true
		}
	}
	return false
}

// Keys returns the keys of the visible objects of a kind with the given key prefix,
// sorted.
func (r *Replica) Keys(kind Kind, prefix string) []string {
	var out []string
	for k, o := range r.state.objs {
		if k.kind == kind && strings.HasPrefix(k.key, prefix) && o.live() {
			if _, soft := r.soft.recs[k]; !soft {
				out = append(out, k.key)
			}
		}
	}
	for k, sr := range r.soft.recs {
		if k.kind == kind && strings.HasPrefix(k.key, prefix) && (!sr.empty || r.hardFields(k)) {
			out = append(out, k.key)
		}
	}
	slices.Sort(out)
	return out
}
