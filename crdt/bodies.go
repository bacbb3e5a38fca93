package crdt

// Sealed bodies: how they leave the replica.
//
// A body leaves for a peer only through release, which decides whether the peer may
// hold it (its jurisdiction in the charter is in the change's bound) and, if it hands
// the body out, calls Config.BodySent for the residency audit. EnvelopeFor, the bodies a
// session serves on request, and the changes a session sends all go through it.
// Envelope and Changes return what the replica holds to its own site (its data file,
// its Raft replicas), never to a peer.

// release returns n encoded for peer, with its bodies only if peer may hold them. It is
// the only place a body leaves the replica for a peer, and it audits every one.
func (r *Replica) release(n *node, peer PubKey) []byte {
	with := r.mayHold(n, peer)
	if with && r.cfg.BodySent != nil {
		r.cfg.BodySent(n.id, peer, n.bound)
	}
	return n.envelope(with)
}
