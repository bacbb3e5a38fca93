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
}

// Get returns one visible field.
func (r *Replica) Get(kind Kind, key, field string) (Value, bool) {
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
	n := r.nodes[*reg.st.id]
	if n.bodies == nil {
		v.Redacted = true
		return v
	}
	c, err := DecodeChange(n.header)
	if err != nil {
		panic("crdt: stored header does not decode: " + err.Error())
	}
	for i, idx := range c.Sealed() {
		if idx == int(reg.st.op) {
			v.Bytes = n.bodies[i]
		}
	}
	return v
}

// Object returns the visible fields of an object.
func (r *Replica) Object(kind Kind, key string) (map[string]Value, bool) {
	o, ok := r.state.objs[objKey{kind, key}]
	if !ok || !o.live() {
		return nil, false
	}
	out := make(map[string]Value, len(o.fields))
	for i := range o.fields {
		f := &o.fields[i]
		if f.reg.flags&regTomb == 0 {
			out[f.name] = r.value(&f.reg)
		}
	}
	return out, true
}

// Keys returns the keys of the live objects of a kind with the given key prefix, sorted.
func (r *Replica) Keys(kind Kind, prefix string) []string {
	var out []string
	for k, o := range r.state.objs {
		if k.kind == kind && strings.HasPrefix(k.key, prefix) && o.live() {
			out = append(out, k.key)
		}
	}
	slices.Sort(out)
	return out
}
