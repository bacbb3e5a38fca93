package chaos

import (
	"fmt"
	"slices"

	"atoll/crdt"
)

// Charter amendments in a run: correct sites amend the charter (rotate an operator's key,
// rotate two admins' keys at once, move a site to another region), signed by two admins
// of the charter they hold. Every key rotated out is handed to the Byzantine nodes, which
// write with it on the past the amendment built on: backdated changes, valid in their
// causal past, that every correct replica must hold void. Two admin keys rotated out
// together are a quorum of that past: the Byzantine nodes sign there a charter change
// admitting a rogue site and an operator of every namespace, which then writes.

// revokedKey is a key an amendment rotated out, and the past it was valid on.
type revokedKey struct {
	signer  *crdt.Signer
	role    string // "operator" or "admin"
	deps    []crdt.Hash
	lamport uint64
	pair    *crdt.Signer // the other admin key rotated out by the same amendment
	by      crdt.Hash    // the amendment
	site    string       // role "site": its name
}

// rogueSite is a site a rogue charter change admits: it writes soft records too.
type rogueSite struct {
	name   string
	signer *crdt.Signer
}

// backdated is a change a Byzantine node signed with a revoked key.
type backdated struct {
	why string
	rk  revokedKey
}

const maxAmendments = 4

// amend makes one amendment at correct node n.
func (s *sim) amend(n *node) {
	ch := n.rep.Charter()
	author, cosigner := s.adminsOf(ch)
	if author == nil || s.amendments >= maxAmendments {
		return
	}
	var ops []crdt.Op
	var out []revokedKey
	switch r := s.rng.IntN(4); r {
	case 0: // an operator's key
		i := s.rng.IntN(2)
		old := s.operatorKey(ch, i)
		if old == nil {
			return
		}
		k := s.newKey("operator")
		ops = []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: fmt.Sprintf("operator/op-%d/key", i), Value: pub(k)}}
		out = append(out, revokedKey{signer: old, role: "operator"})
	case 1: // two admins' keys, a quorum of the past
		names := sortedNames(ch.Admins)
		a, b := names[0], names[1+s.rng.IntN(len(names)-1)]
		for _, name := range []string{a, b} {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "admin/" + name, Value: pub(s.newKey("admin"))})
		}
		oa, ob := s.keys[keyOf(ch.Admins, a)], s.keys[keyOf(ch.Admins, b)]
		out = append(out, revokedKey{signer: oa, role: "admin", pair: ob}, revokedKey{signer: ob, role: "admin", pair: oa})
	case 2: // a correct site's key: the site switches when it hears (follow)
		victim := s.correct()[s.rng.IntN(len(s.correct()))]
		info, ok := ch.SiteByName(victim.name)
		if !ok || s.keys[info.Key] == nil {
			return
		}
		ops = []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "site/" + victim.name + "/key", Value: pub(s.newKey("site"))}}
		out = append(out, revokedKey{signer: s.keys[info.Key], role: "site", site: victim.name})
	default: // a site's region: no key revoked
		victim := s.nodes[s.rng.IntN(len(s.nodes))]
		ops = []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "site/" + victim.name + "/region", Value: []byte(fmt.Sprintf("r%d", s.rng.IntN(100)))}}
	}
	env, err := s.coreWrite(n, author, ops, nil, nil, cosigner)
	if err != nil {
		panic(fmt.Sprintf("chaos: seed %d: %s: amendment %v refused: %v", s.cfg.Seed, n.name, ops, err))
	}
	s.amendments++
	for _, rk := range out {
		rk.deps, rk.lamport, rk.by = env.Change.Deps, env.Change.Lamport, env.ID
		s.revoked = append(s.revoked, rk)
	}
}

// backdate makes Byzantine node b write with a revoked key on the past it was valid on.
func (s *sim) backdate(b *node) {
	if len(s.revoked) == 0 {
		return
	}
	rk := s.revoked[s.rng.IntN(len(s.revoked))]
	change := func(ops []crdt.Op, deps []crdt.Hash, lamport uint64) *crdt.Change {
		return &crdt.Change{Lamport: lamport, Deps: slices.Clone(deps), Ops: ops}
	}
	var envs []*crdt.Envelope
	sign := func(c *crdt.Change, author *crdt.Signer, cos ...*crdt.Signer) *crdt.Envelope {
		env, err := crdt.Sign(c, nil, author, cos...)
		if err != nil {
			panic(err)
		}
		envs = append(envs, env)
		s.voided[env.ID] = backdated{why: rk.role + " key rotated out", rk: rk}
		return env
	}
	switch {
	case rk.role == "site":
		op := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindSite, Key: rk.site, Field: "version", Value: []byte("backdated")}
		sign(change([]crdt.Op{op}, rk.deps, rk.lamport), rk.signer)
	case rk.role == "operator":
		op := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: crdt.WorkloadKey("shop", "w0"), Field: "replicas", Value: []byte("0")}
		sign(change([]crdt.Op{op}, rk.deps, rk.lamport), rk.signer)
	case rk.pair != nil:
		site, operator := s.newKey("rogue site"), s.newKey("rogue operator")
		s.rogues = append(s.rogues, site.Public(), operator.Public())
		rogue := rogueSite{name: fmt.Sprintf("rogue-%d", len(s.rogues)), signer: site}
		s.rogueSites = append(s.rogueSites, rogue)
		coup := sign(change(crdt.CharterSpec{
			Sites:     []crdt.SiteInfo{{Name: rogue.name, Key: site.Public(), Region: "x", Jurisdiction: jurisdictions[0]}},
			Operators: []crdt.OperatorInfo{{Name: fmt.Sprintf("rogue-%d", len(s.rogues)), Key: operator.Public(), Namespaces: []string{"*"}}},
		}.Ops(), rk.deps, rk.lamport), rk.signer, rk.pair)
		op := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: crdt.WorkloadKey("bank", "ledger-eu"), Field: "replicas", Value: []byte("0")}
		sign(change([]crdt.Op{op}, []crdt.Hash{coup.ID}, rk.lamport+1), operator)
	default:
		return
	}
	victims := s.correct()
	for _, env := range envs {
		to := victims[s.rng.IntN(len(victims))].idx
		s.net.send(message{from: b.idx, to: to, kind: msgPush, data: env.Encode()}, s.tick)
	}
}

// checkRevoked verifies at correct node n that every backdated change it holds is void
// and that no rogue key is a member or is given a body. An admin key is dead once any
// amendment rotated it out; an operator key only if that amendment takes effect (its
// signers may have been rotated out concurrently).
func (s *sim) checkRevoked(n *node) error {
	for id, b := range s.voided {
		if !n.rep.Has(id) || n.rep.Void(id) || b.rk.role != "admin" && n.rep.Void(b.rk.by) {
			continue
		}
		return fmt.Errorf("%s holds backdated change %s (%s by %s) and it takes effect", n.name, id, b.why, b.rk.by)
	}
	ch := n.rep.Charter()
	for _, k := range s.rogues {
		if ch.Member(k) {
			return fmt.Errorf("%s: rogue key %s is a member of the charter in force", n.name, k)
		}
		for id := range s.bodies {
			env, _ := n.rep.EnvelopeFor(id, k)
			if e, err := crdt.DecodeEnvelope(env); err == nil && len(e.Bodies) > 0 {
				return fmt.Errorf("%s gives rogue key %s the body of %s", n.name, k, id)
			}
		}
	}
	return nil
}

// follow makes correct node n sign as the key its charter lists for it, once the
// simulation holds that key: a site switches when it hears of its rotation, and publishes
// its clusters' soft records again under the new key (those signed with the old one are
// no longer held).
func (s *sim) follow(n *node) {
	info, ok := n.rep.Charter().SiteByName(n.name)
	if !ok || info.Key == n.signer.Public() {
		return
	}
	if k := s.keys[info.Key]; k != nil {
		n.signer = k
		n.rep.SetSelf(k.Public())
		s.publishClusters(n)
	}
}

// adminsOf returns two admins of ch whose keys the simulation holds.
func (s *sim) adminsOf(ch *crdt.Charter) (*crdt.Signer, *crdt.Signer) {
	var held []*crdt.Signer
	for _, name := range sortedNames(ch.Admins) {
		if k := s.keys[keyOf(ch.Admins, name)]; k != nil && !s.isRevoked(k) {
			held = append(held, k)
		}
	}
	if len(held) < 2 {
		return nil, nil
	}
	i := s.rng.IntN(len(held))
	j := (i + 1 + s.rng.IntN(len(held)-1)) % len(held)
	return held[i], held[j]
}

func (s *sim) isRevoked(k *crdt.Signer) bool {
	for _, rk := range s.revoked {
		if rk.signer == k {
			return true
		}
	}
	return false
}

// operatorKey returns the key of operator op-i in ch, or nil if it has none.
func (s *sim) operatorKey(ch *crdt.Charter, i int) *crdt.Signer {
	name := fmt.Sprintf("op-%d", i)
	for k, o := range ch.Operators {
		if o.Name == name {
			return s.keys[k]
		}
	}
	return nil
}

func (s *sim) newKey(role string) *crdt.Signer {
	s.nextKey++
	k := seededSigner(s.cfg.Seed, role, 1000+s.nextKey)
	s.keys[k.Public()] = k
	return k
}

func pub(s *crdt.Signer) []byte { p := s.Public(); return p[:] }

func sortedNames(m map[crdt.PubKey]string) []string {
	var out []string
	for _, n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func keyOf(m map[crdt.PubKey]string, name string) crdt.PubKey {
	for k, n := range m {
		if n == name {
			return k
		}
	}
	return crdt.PubKey{}
}
