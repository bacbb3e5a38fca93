package crdt

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sort"
	"strings"
)

// stamp orders writes: Lamport time, then change id, then the op's index in the change.
// The zero stamp (nil id) is older than every write.
type stamp struct {
	lamport uint64
	id      *Hash // points into the change's node: 8 bytes per register, not 32
	op      uint32
}

func (a stamp) less(b stamp) bool {
	if a.lamport != b.lamport {
		return a.lamport < b.lamport
	}
	if a.id == nil || b.id == nil {
		return a.id == nil && b.id != nil
	}
	if c := compareHash(a.id, b.id); c != 0 {
		return c < 0
	}
	return a.op < b.op
}

const (
	regTomb   = 1 << iota // deleted field
	regSealed             // val is a body hash
)

type register struct {
	st    stamp
	val   []byte
	flags uint8
}

type field struct {
	name string
	reg  register
}

// object is one replicated object: its fields newer than its last remove.
type object struct {
	removed stamp
	fields  []field // sorted by name
	hash    Hash
	clean   bool // hash is current
}

// apply applies one op at stamp st. It reports whether anything changed.
func (o *object) apply(op *Op, st stamp, name string) bool {
	if op.Type == OpRemove {
		if !o.removed.less(st) {
			return false
		}
		o.removed = st
		o.fields = slices.DeleteFunc(o.fields, func(f field) bool { return f.reg.st.less(st) })
		o.clean = false
		return true
	}
	if st.less(o.removed) {
		return false
	}
	reg := register{st: st}
	switch op.Type {
	case OpSet:
		reg.val = op.Value
	case OpSeal:
		reg.val, reg.flags = op.Value, regSealed
	case OpDelete:
		reg.flags = regTomb
	}
	i, found := sort.Find(len(o.fields), func(i int) int { return strings.Compare(name, o.fields[i].name) })
	if found {
		if !o.fields[i].reg.st.less(st) {
			return false
		}
		o.fields[i].reg = reg
	} else {
		o.fields = slices.Insert(o.fields, i, field{name: name, reg: reg})
	}
	o.clean = false
	return true
}

func (o *object) get(name string) (*register, bool) {
	i, found := sort.Find(len(o.fields), func(i int) int { return strings.Compare(name, o.fields[i].name) })
	if !found || o.fields[i].reg.flags&regTomb != 0 {
		return nil, false
	}
	return &o.fields[i].reg, true
}

// live reports whether the object has a visible field.
func (o *object) live() bool {
	for i := range o.fields {
		if o.fields[i].reg.flags&regTomb == 0 {
			return true
		}
	}
	return false
}

func (o *object) digest(k objKey) Hash {
	if o.clean {
		return o.hash
	}
	h := sha256.New()
	var b []byte
	b = append(b, byte(k.kind))
	b = appendBytes(b, []byte(k.key))
	b = appendStamp(b, o.removed)
	b = binary.AppendUvarint(b, uint64(len(o.fields)))
	for _, f := range o.fields {
		b = appendBytes(b, []byte(f.name))
		b = append(b, f.reg.flags)
		b = appendStamp(b, f.reg.st)
		b = appendBytes(b, f.reg.val)
	}
	h.Write(b)
	h.Sum(o.hash[:0])
	o.clean = true
	return o.hash
}

func appendStamp(b []byte, s stamp) []byte {
	b = binary.AppendUvarint(b, s.lamport)
	if s.id == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = append(b, s.id[:]...)
	return binary.AppendUvarint(b, uint64(s.op))
}

type objKey struct {
	kind Kind
	key  string
}

func (a objKey) compare(b objKey) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	return strings.Compare(a.key, b.key)
}

// State is the materialized federation state: a pure function of the set of valid changes.
type State struct {
	objs   map[objKey]*object
	keys   []objKey // every key in objs; sorted when sorted is true
	sorted bool
	names  map[string]string // interned field names
	liveNS map[string]int    // live workloads per namespace, for object quotas (quota.go)
	// What soft state must follow (softstate.go): workloads and clusters no longer live,
	// and whether a workload or cluster became live. Replica.followState consumes them.
	gone []objKey
	born bool
}

func newState() *State {
	return &State{objs: make(map[objKey]*object), names: make(map[string]string), sorted: true}
}

// applyChange applies every op of a valid change with id id.
func (s *State) applyChange(c *Change, id *Hash) { s.applyExcept(c, id, nil) }

// applyExcept applies the ops of c that skip does not leave out (nil: all of them).
func (s *State) applyExcept(c *Change, id *Hash, skip func(i int) bool) {
	for i := range c.Ops {
		if skip != nil && skip(i) {
			continue
		}
		op := &c.Ops[i]
		k := objKey{op.Kind, op.Key}
		o := s.objs[k]
		if o == nil {
			o = &object{}
			s.objs[k] = o
			s.keys = append(s.keys, k)
			s.sorted = false
		}
		tracked := k.kind == KindWorkload || k.kind == KindCluster
		was := tracked && o.live()
		o.apply(op, stamp{lamport: c.Lamport, id: id, op: uint32(i)}, s.intern(op.Field))
		if !tracked {
			continue
		}
		is := o.live()
		if k.kind == KindWorkload {
			s.countWorkload(k.key, was, is)
		}
		if was && !is {
			s.gone = append(s.gone, k)
		}
		s.born = s.born || !was && is
	}
}

func (s *State) intern(name string) string {
	if v, ok := s.names[name]; ok {
		return v
	}
	if len(s.names) < 1<<16 {
		s.names[name] = name
	}
	return name
}

// Digest is one hash of the whole materialized state, registers' stamps included.
// Replicas that hold the same set of valid changes have the same digest. Sealed bodies
// enter through their hashes, so replicas inside and outside a bound agree.
func (s *State) Digest() Hash {
	if !s.sorted {
		slices.SortFunc(s.keys, objKey.compare)
		s.sorted = true
	}
	h := sha256.New()
	h.Write([]byte(domainState))
	for _, k := range s.keys {
		d := s.objs[k].digest(k)
		h.Write(d[:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}
