package crdt

import (
	"fmt"
	"strconv"
	"strings"
)

// Member is a named key in a charter role.
type Member struct {
	Name string
	Key  PubKey
}

// CharterSpec describes charter entries to write: the whole charter for a genesis, or
// the entries to add in a later charter change.
type CharterSpec struct {
	Name      string
	Threshold int // 0 leaves it unchanged (required in a genesis)
	Admins    []Member
	Sites     []SiteInfo
	Operators []OperatorInfo
	Observers []Member
	Quota     Quota // federation-wide quotas; zero fields are left out
	Format    int   // the format level (format.go); 0 leaves it unchanged (a genesis without it is level 1)
}

// Ops returns the charter operations that write the spec.
func (s CharterSpec) Ops() []Op {
	var ops []Op
	set := func(field string, v []byte) {
		ops = append(ops, Op{Type: OpSet, Kind: KindCharter, Field: field, Value: v})
	}
	if s.Name != "" {
		set("name", []byte(s.Name))
	}
	if s.Threshold > 0 {
		set("threshold", []byte(strconv.Itoa(s.Threshold)))
	}
	if s.Format > 0 {
		set(FormatField, []byte(strconv.Itoa(s.Format)))
	}
	for _, a := range s.Admins {
		set("admin/"+a.Name, a.Key[:])
	}
	for _, st := range s.Sites {
		set("site/"+st.Name+"/key", st.Key[:])
		set("site/"+st.Name+"/region", []byte(st.Region))
		set("site/"+st.Name+"/jurisdiction", []byte(st.Jurisdiction))
	}
	for _, o := range s.Operators {
		set("operator/"+o.Name+"/key", o.Key[:])
		set("operator/"+o.Name+"/namespaces", []byte(strings.Join(o.Namespaces, ",")))
		if o.QuotaBytes > 0 {
			set("operator/"+o.Name+"/quota/bytes", strconv.AppendUint(nil, o.QuotaBytes, 10))
		}
		if o.ClusterScope {
			set("operator/"+o.Name+"/clusterscope", []byte("true"))
		}
	}
	for _, o := range s.Observers {
		set("observer/"+o.Name+"/key", o.Key[:])
	}
	return append(ops, s.Quota.ops()...)
}

// NewGenesis signs the first charter change of a federation. signers must be admins named
// in spec, at least spec.Threshold of them; the first is the author.
func NewGenesis(spec CharterSpec, signers ...*Signer) (*Envelope, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("crdt: genesis needs at least one admin signer")
	}
	c := &Change{Lamport: 1, Ops: spec.Ops()}
	env, err := Sign(c, nil, signers[0], signers[1:]...)
	if err != nil {
		return nil, err
	}
	// Check it as a replica would, so a bad spec fails here with the reason.
	if _, err := NewReplica(Config{Genesis: env.Encode()}); err != nil {
		return nil, err
	}
	return env, nil
}
