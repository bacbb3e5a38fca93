package core

import (
	"fmt"
	"math/rand/v2"
	"time"

	"atoll/crdt"
	"atoll/peering"
)

// Admit charges a frame of n bytes from peer to its budget. False: the peer is over its
// budget or refused; the shell drops its stream.
func (c *Core) Admit(peer string, n int, now time.Time) bool {
	return c.budget.Allow(peer, n, now)
}

// Receive applies frames a peer pushed, relays what is new to Fanout other live peers,
// and reports what the replica did and whether the peer may go on: every invalid change
// is a strike against it, and a peer struck too often is refused for a while.
func (c *Core) Receive(peer string, frames [][]byte, now time.Time) (crdt.Result, bool) {
	var all crdt.Result
	for _, b := range frames {
		res := c.rep.Receive(b)
		all.Stored = append(all.Stored, res.Stored...)
		all.Rejected = append(all.Rejected, res.Rejected...)
		all.Buffered += res.Buffered
		all.Unbuffered += res.Unbuffered
		all.Duplicate += res.Duplicate
		all.Beyond += res.Beyond
	}
	c.store(all, fromPeer)
	ok := c.account(peer, all.Rejected, now)
	if all.Buffered > 0 || all.Unbuffered > 0 {
		c.ae.Want(peer) // its dependencies (a charter change admitting its author) come by a session
		c.ready.Wake = true
	}
	c.relay(all.Stored, peer)
	return all, ok
}

// Submit stores a change a client handed to this site, and pushes it to every live peer
// once stored.
func (c *Core) Submit(b []byte) crdt.Result {
	res := c.rep.Receive(b)
	c.store(res, fromPeer)
	c.relay(res.Stored, "")
	return res
}

// Write signs ops as author (and cosigners), with sealed bodies bounded to bound (none:
// nil), stores the change and pushes it to every live peer.
func (c *Core) Write(author *crdt.Signer, ops []crdt.Op, bodies [][]byte, bound []string, cosigners ...*crdt.Signer) (*crdt.Envelope, error) {
	env, res, err := c.rep.Write(author, ops, bodies, bound, cosigners...)
	c.store(res, fromWrite)
	if err != nil {
		return nil, err
	}
	c.relay(res.Stored, "")
	return env, nil
}

// relay pushes stored changes: to every live peer when this site wrote or was handed
// them (from ""), else to Fanout random live peers other than from.
func (c *Core) relay(stored []*crdt.Envelope, from string) {
	if len(stored) == 0 || c.cfg.Observer {
		return
	}
	to := c.Live()
	if from != "" {
		to = peering.Pick(c.rng, to, from, c.cfg.Fanout)
	}
	if len(to) == 0 {
		return
	}
	ids := make([]crdt.Hash, len(stored))
	for i, env := range stored {
		ids[i] = env.ID
	}
	c.ready.Push = append(c.ready.Push, Push{To: to, IDs: ids, Relayed: from != ""})
}

// account strikes peer for every invalid change it sent, and reports whether the peer is
// still allowed. Once refused, its further invalid changes are counted, not reported.
func (c *Core) account(peer string, rejected []crdt.Rejection, now time.Time) bool {
	refused := false
	for _, rej := range rejected {
		refused = c.budget.Strike(peer, now)
		if !refused {
			c.event(Event{Kind: "change", Subject: peer, Text: fmt.Sprintf("rejected change %s from %s: %v", rej.ID, peer, rej.Err),
				Log: "invalid change from peer", Attrs: []any{"peer", peer, "change", rej.ID.String(), "err", rej.Err}, Warn: true})
		}
	}
	return !refused
}

// Strike counts one invalid record from peer outside the DAG (a soft record), and
// reports whether the peer is now refused.
func (c *Core) Strike(peer string, now time.Time) bool { return c.budget.Strike(peer, now) }

// Rand is the core's source of randomness, for the shell's choices that must replay
// with it (which peer a soft session goes to).
func (c *Core) Rand() *rand.Rand { return c.rng }
