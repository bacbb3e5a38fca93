package crdt

import "slices"

// Whom a replica talks to and releases bodies to (docs/adr/0009-revocation.md).
//
// Concurrent charter changes by quorums nobody revoked merge field by field into the
// charter in force. For the two decisions that must never widen through such a fork,
// whom the transport accepts and to whom a body leaves, the replica uses the charter in
// force less every site (and observer) that the latest charter of some concurrent branch
// does not attest under the same name (and, for a site, the same jurisdiction). The
// branches are the charter changes that take effect and that no other one that takes
// effect builds on; with one branch, the usual case, it is the charter in force. A later
// amendment built on every branch (any amendment proposed at a site that holds them)
// ends the fork.

// PeerCharter returns the charter that decides which sites and observers this replica
// accepts as peers and which sites may receive a body.
func (r *Replica) PeerCharter() *Charter {
	if r.peers == nil {
		return r.charter
	}
	return r.peers
}

// refreshPeers recomputes PeerCharter after a charter change.
func (r *Replica) refreshPeers() {
	r.peers = nil
	heads := r.charterHeads()
	if len(heads) < 2 {
		return
	}
	v := r.viewOf(r.all)
	branches := make([]*Charter, len(heads))
	for i, h := range heads {
		branches[i] = r.charterUnder(h.cset, v)
	}
	c := *r.charter
	c.Sites, c.byName, c.Observers = map[PubKey]*SiteInfo{}, map[string]*SiteInfo{}, map[PubKey]string{}
	for k, info := range r.charter.Sites {
		if allBranches(branches, func(b *Charter) bool {
			s, ok := b.SiteByName(info.Name)
			return ok && s.Jurisdiction == info.Jurisdiction
		}) {
			c.Sites[k], c.byName[info.Name] = info, info
		}
	}
	for k, name := range r.charter.Observers {
		if allBranches(branches, func(b *Charter) bool {
			for _, n := range b.Observers {
				if n == name {
					return true
				}
			}
			return false
		}) {
			c.Observers[k] = name
		}
	}
	r.peers = &c
}

func allBranches(bs []*Charter, ok func(*Charter) bool) bool {
	for _, b := range bs {
		if !ok(b) {
			return false
		}
	}
	return true
}

// charterHeads returns the charter changes that take effect and that no other one that
// takes effect builds on, in arrival order.
func (r *Replica) charterHeads() []*node {
	v := r.viewOf(r.all)
	var live []*node
	for _, n := range r.charters {
		if !v.void[n] {
			live = append(live, n)
		}
	}
	var heads []*node
	for i, n := range live {
		covered := false
		for _, m := range live[i+1:] { // only a later arrival can build on n
			if m.cset.has(n) {
				covered = true
				break
			}
		}
		if !covered {
			heads = append(heads, n)
		}
	}
	return heads
}

func (s *cset) has(n *node) bool {
	_, ok := slices.BinarySearchFunc(s.nodes, n.seq, func(m *node, seq int32) int { return int(m.seq - seq) })
	return ok
}
