package crdt

import (
	"crypto/sha256"
	"testing"
)

// fed is a small federation for tests: 3 admins (2 of 3 needed), sites in EU, US and
// IN, and operators for namespaces "shop" and everything.
type fed struct {
	admins  []*Signer
	sites   map[string]*Signer
	ops     map[string]*Signer // operators
	genesis *Envelope
}

func key(name string) *Signer {
	seed := sha256.Sum256([]byte("atoll test key " + name))
	return SignerFromSeed(seed[:])
}

func newFed(t testing.TB) *fed {
	t.Helper()
	f := &fed{sites: map[string]*Signer{}, ops: map[string]*Signer{}}
	spec := CharterSpec{Name: "test", Threshold: 2}
	for _, a := range []string{"ada", "bob", "cy"} {
		s := key("admin " + a)
		f.admins = append(f.admins, s)
		spec.Admins = append(spec.Admins, Member{a, s.Public()})
	}
	for _, s := range []struct{ name, region, jur string }{
		{"eu-west", "eu-west-1", "EU"}, {"eu-north", "eu-north-1", "EU"}, {"us-east", "us-east-1", "US"}, {"ap-south", "ap-south-1", "IN"},
	} {
		k := key("site " + s.name)
		f.sites[s.name] = k
		spec.Sites = append(spec.Sites, SiteInfo{Name: s.name, Key: k.Public(), Region: s.region, Jurisdiction: s.jur})
	}
	for _, o := range []struct {
		name string
		ns   []string
	}{{"shopdev", []string{"shop"}}, {"root", []string{"*"}}} {
		k := key("operator " + o.name)
		f.ops[o.name] = k
		spec.Operators = append(spec.Operators, OperatorInfo{Name: o.name, Key: k.Public(), Namespaces: o.ns})
	}
	env, err := NewGenesis(spec, f.admins[0], f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	f.genesis = env
	return f
}

// replica returns a new replica whose identity is the named site ("" for none).
func (f *fed) replica(t testing.TB, site string) *Replica {
	t.Helper()
	cfg := Config{Genesis: f.genesis.Encode()}
	if site != "" {
		cfg.Self = f.sites[site].Public()
	}
	r, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func set(kind Kind, key, field, value string) Op {
	return Op{Type: OpSet, Kind: kind, Key: key, Field: field, Value: []byte(value)}
}

func mustWrite(t testing.TB, r *Replica, s *Signer, ops ...Op) *Envelope {
	t.Helper()
	env, _, err := r.Write(s, ops, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
