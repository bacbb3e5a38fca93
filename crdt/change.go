package crdt

import "fmt"

// Kind is the type of a replicated object.
type Kind uint8

// The object kinds. Their keys and fields are described in schema.go.
const (
	KindCharter  Kind = 1 // the federation charter; one object with key ""
	KindSite     Kind = 2 // key: site name; written by that site
	KindCluster  Kind = 3 // key: site/cluster; written by the owning site
	KindWorkload Kind = 4 // key: namespace/name; written by operators granted the namespace
	KindStatus   Kind = 5 // key: namespace/name/site/cluster; written by the site
	KindPolicy   Kind = 6 // key: <policy kind>/[namespace/]name; written by operators (schema.go)
	maxKind           = KindPolicy
)

var kindNames = [...]string{"", "charter", "site", "cluster", "workload", "status", "policy"}

func (k Kind) String() string {
	if k >= 1 && k <= maxKind {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// OpType says what an operation does to its field or object.
type OpType uint8

// The operation types.
const (
	OpSet    OpType = 1 // set Field to Value
	OpDelete OpType = 2 // delete Field (a tombstone that wins over older sets)
	OpRemove OpType = 3 // remove the object: every field older than this op disappears
	OpSeal   OpType = 4 // set Field to a sealed body; Value is the 32-byte body hash
	maxOp           = OpSeal
)

var opNames = [...]string{"", "set", "delete", "remove", "seal"}

func (t OpType) String() string {
	if t >= 1 && t <= maxOp {
		return opNames[t]
	}
	return fmt.Sprintf("op(%d)", uint8(t))
}

// Op is one field operation on one object.
type Op struct {
	Type  OpType
	Kind  Kind
	Key   string
	Field string // empty for OpRemove
	Value []byte // OpSet: the value; OpSeal: the body hash; otherwise empty
}

// Cosig is an extra admin signature over the same message the author signs;
// charter changes need as many distinct admin signatures as the charter's threshold.
type Cosig struct {
	Key PubKey
	Sig [64]byte
}

// Change is a signed batch of operations, linked to the heads its author had seen.
//
// The header (everything here) is what is hashed into the id and what every replica
// stores. Bodies of sealed operations travel beside the header, in an Envelope, and only
// to replicas inside Bound.
type Change struct {
	Author  PubKey
	Lamport uint64   // 1 + the largest Lamport time among Deps; 1 for the genesis
	Deps    []Hash   // strictly increasing
	Bound   []string // jurisdictions allowed to hold the sealed bodies; strictly increasing
	Ops     []Op
	Cosigs  []Cosig // strictly increasing by key
	Sig     [64]byte
}

// Sealed returns the indexes of the sealed operations, in order: the order of the bodies.
func (c *Change) Sealed() []int {
	var idx []int
	for i := range c.Ops {
		if c.Ops[i].Type == OpSeal {
			idx = append(idx, i)
		}
	}
	return idx
}

// IsCharter reports whether the change writes the charter.
func (c *Change) IsCharter() bool {
	return len(c.Ops) > 0 && c.Ops[0].Kind == KindCharter
}

// ParseKind returns the kind with that name ("site", "cluster", ...).
func ParseKind(s string) (Kind, error) {
	for k := Kind(1); k <= maxKind; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q: want charter, site, cluster, workload, status or policy", s)
}

// ParseOpType returns the operation type with that name ("set", "delete", ...).
func ParseOpType(s string) (OpType, error) {
	for t := OpType(1); t <= maxOp; t++ {
		if opNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown operation %q: want set, delete, remove or seal", s)
}
