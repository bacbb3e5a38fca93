package chaos

import (
	"time"

	"atoll/crdt"
	"atoll/peering"
)

// Every node runs a site's replication core (site/core), driven as package site drives
// it: the membership reports the other nodes live, every Ready is persisted before what
// it says is sent, and anti-entropy starts the sessions it finds due. A tick is 100 ms
// of the cores' time.

const tickTime = 100 * time.Millisecond

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simSync is the site's anti-entropy defaults (a session with a peer whose advertised
// heads stay unknown for 5 ticks, at most one a second per peer), with the safety-net
// session every 30 ticks instead of 300, since the chaos phase lasts 120.
var simSync = peering.Config{Interval: 3 * time.Second}

// simBudget lets Byzantine traffic reach validation most of the time (the checker wants
// it validated, not only cut off), while a flood still trips the budget for a while.
var simBudget = peering.BudgetConfig{Strikes: 64, Window: time.Second, Penalty: 2 * time.Second}

func (s *sim) now() time.Time { return epoch.Add(time.Duration(s.tick) * tickTime) }

// meet tells n's core that every other node is live, under its current key (a charter
// amendment may have rotated it), as memberlist and the charter would.
func (s *sim) meet(n *node) {
	for _, p := range s.nodes {
		if p == n {
			continue
		}
		if cur, ok := n.core.Peer(p.name); !ok || cur.Key != p.signer.Public() {
			n.core.PeerUp(p.name, p.signer.Public(), "", s.now())
		}
	}
	fileSoft(n, n.core.Ready().Soft) // otherwise only events and liveness
}

// ready persists what n's core stored and the soft records it gained and lost, then
// sends the pushes it asks for.
func (s *sim) ready(n *node) {
	rd := n.core.Ready()
	fileSoft(n, rd.Soft)
	s.persist(n, rd.Persist)
	if rd.Hint {
		s.advertise(n)
	}
	for _, name := range rd.HintTo {
		s.hint(n, s.nodes[s.index[name]])
	}
	for _, p := range rd.SoftPush {
		for _, name := range p.To {
			s.net.send(message{from: n.idx, to: s.index[name], kind: msgSoftPush, data: p.Raw}, s.tick)
			if !n.byz {
				s.softStats.pushed++
			}
		}
	}
	for _, p := range rd.Push {
		for _, name := range p.To {
			peer, ok := n.core.Peer(name)
			if !ok {
				continue
			}
			for _, id := range p.IDs {
				if b, ok := n.rep.EnvelopeFor(id, peer.Key); ok {
					s.net.send(message{from: n.idx, to: s.index[name], kind: msgPush, data: b}, s.tick)
				}
			}
		}
	}
}

// advertise sends n's heads in a hint frame to every other node, as a site does on its
// push streams when it owes every peer one (a new stream, a session's changes): over the
// lossy network, delivered to the receiver's core (Core.Hint), which keeps a hint from a
// node it does not count live yet until it does, and owes one back to a node behind it.
func (s *sim) advertise(n *node) {
	for _, p := range s.nodes {
		if p != n {
			s.hint(n, p)
		}
	}
}

// hint sends n's heads in a hint frame to p.
func (s *sim) hint(n, p *node) {
	heads := n.rep.Heads()
	hs := make([][32]byte, len(heads))
	for i, h := range heads {
		hs[i] = h
	}
	hint := peering.EncodeHint(peering.NewMeta(n.rep.Len(), hs))
	s.net.send(message{from: n.idx, to: p.idx, kind: msgHint, data: hint}, s.tick)
}

// coreWrite hands ops to n's core, which stores the change and pushes it to every live peer.
func (s *sim) coreWrite(n *node, author *crdt.Signer, ops []crdt.Op, bodies [][]byte, bound []string, cosigners ...*crdt.Signer) (*crdt.Envelope, error) {
	env, err := n.core.Write(author, ops, bodies, bound, cosigners...)
	s.ready(n)
	return env, err
}
