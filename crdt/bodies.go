package crdt

import "fmt"

// Sealed bodies: how they leave the replica and when it lets go of them.
//
// A body leaves for a peer only through release, which decides whether the peer may
// hold it (its jurisdiction in the charter is in the change's bound) and, if it hands
// the body out, calls Config.BodySent for the residency audit. EnvelopeFor, the bodies a
// session serves on request, and the changes a session sends all go through it.
// Envelope and Changes return what the replica holds to its own site (its data file,
// its Raft replicas), never to a peer.
//
// The replica holds a body only while its own jurisdiction is inside the bound. A
// charter change that takes it out (a new jurisdiction, or the site removed or rotated
// out of the charter) makes it drop the bodies it may no longer hold, and Result.Stored
// then carries those changes header-only: persisted again, they replace the records
// that held the bodies. Nothing can recall what was already read, copied or backed up
// (docs/SECURITY.md).

// release returns n encoded for peer, with its bodies only if peer may hold them. It is
// the only place a body leaves the replica for a peer, and it audits every one.
func (r *Replica) release(n *node, peer PubKey) []byte {
	if n = r.full(n); n == nil {
		return nil // a skeleton the archive lacks
	}
	with := r.mayHold(n, peer)
	if with && r.cfg.BodySent != nil {
		r.cfg.BodySent(n.id, peer, n.bound())
	}
	return n.envelope(with)
}

// dropOutside forgets the bodies this replica may no longer hold under its charter, and
// stops asking for them; it queues the changes header-only for the next Result, to be
// persisted again. Called after a charter change.
func (r *Replica) dropOutside() {
	for _, n := range r.order {
		if n.bound() == nil || r.inside(n.bound()) {
			continue
		}
		delete(r.lacking, n.id)
		if n.skel { // its bodies are in the archive only: store it header-only
			if full := r.full(n); full != nil && n.filed {
				n.filed, n.bodySz = false, 0
				r.skelDirty = append(r.skelDirty, n)
				c, err := DecodeChange(full.header)
				if err == nil {
					r.unaccountBodies(c, full.bodies())
					r.dropped = append(r.dropped, &Envelope{ID: n.id, Change: c, Header: full.header})
				}
			}
			continue
		}
		if n.bodies() == nil {
			continue
		}
		c, err := DecodeChange(n.header)
		if err != nil {
			panic(fmt.Sprintf("crdt: stored change %s does not decode: %v", n.id, err))
		}
		r.unaccountBodies(c, n.bodies())
		n.setBodies(nil)
		r.dropped = append(r.dropped, &Envelope{ID: n.id, Change: c, Header: n.header})
	}
}

// takeDropped returns the changes whose bodies were dropped since the last call.
func (r *Replica) takeDropped() []*Envelope {
	d := r.dropped
	r.dropped = nil
	return d
}
