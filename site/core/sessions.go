package core

import (
	"errors"
	"time"

	"atoll/crdt"
)

// Session is one sync session with a peer, started here (Initiate) or by the peer
// (Respond). The shell moves its frames; the core steps it.
type Session struct {
	peer      string
	outgoing  bool
	scheduled bool // Due named it: its end goes back to anti-entropy
	s         *crdt.Session
}

// Peer is the other end of the session.
func (s *Session) Peer() string { return s.peer }

// Done reports whether the session has nothing more to exchange.
func (s *Session) Done() bool { return s.s.Done() }

// Stats are the session's bytes and messages so far.
func (s *Session) Stats() crdt.SyncStats { return s.s.Stats() }

// Why Initiate and Respond refuse.
var (
	ErrNotLive         = errors.New("peer not live")
	ErrTooManySessions = errors.New("too many sessions from peer")
	ErrOverBudget      = errors.New("peer over budget")
	ErrRefused         = errors.New("peer refused after invalid changes")
)

// Initiate starts a session with a live peer, and returns the first message to send. The
// peer is one Due named, or one the shell chose (the simulator's quiescence asks a peer of
// its jurisdiction for sealed bodies it lacks). A peer Due named and lost since ends its
// session at once.
func (c *Core) Initiate(peer string) (*Session, []byte, error) {
	scheduled := c.due[peer]
	delete(c.due, peer)
	p, ok := c.liveness.Peer(peer)
	if !ok {
		if scheduled {
			c.ae.Done(peer, false)
		}
		return nil, nil, ErrNotLive
	}
	s, hello := c.rep.Initiate(p.Key, c.rng.Uint64())
	return &Session{peer: peer, outgoing: true, scheduled: scheduled, s: s}, hello, nil
}

// Respond answers a session a peer (a site or an observer, by its charter key) started,
// within MaxSessionsPerPeer and MaxSessionsIn.
func (c *Core) Respond(peer string, key crdt.PubKey) (*Session, error) {
	if !c.Enter(peer) {
		return nil, ErrTooManySessions
	}
	return &Session{peer: peer, s: c.rep.Respond(key)}, nil
}

// Enter takes one of the inbound session slots for a session peer started (a sync
// session through Respond, or a soft session), within MaxSessionsPerPeer and
// MaxSessionsIn; Leave gives it back.
func (c *Core) Enter(peer string) bool {
	total := 0
	for _, n := range c.inbound {
		total += n
	}
	if c.inbound[peer] >= c.cfg.MaxSessionsPerPeer || total >= c.cfg.MaxSessionsIn {
		return false
	}
	c.inbound[peer]++
	return true
}

// Leave gives back a slot Enter took.
func (c *Core) Leave(peer string) {
	if c.inbound[peer]--; c.inbound[peer] <= 0 {
		delete(c.inbound, peer)
	}
}

// Step takes one message of the session, charged to the peer's budget, and returns the
// reply to send (nil: none) once the Ready it leaves is persisted. An error ends the
// session; the shell then calls End.
func (c *Core) Step(s *Session, in []byte, now time.Time) ([]byte, error) {
	if !c.budget.Allow(s.peer, len(in), now) {
		return nil, ErrOverBudget
	}
	reply, res, err := s.s.Step(in)
	c.store(res, fromPeer)
	allowed := c.account(s.peer, res.Rejected, now)
	c.relay(res.Stored, s.peer)
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, ErrRefused
	}
	return reply, nil
}

// End closes a session; ok reports whether it ran to its end.
func (c *Core) End(s *Session, ok bool) {
	if s.outgoing {
		if s.scheduled {
			c.ae.Done(s.peer, ok)
		}
		return
	}
	c.Leave(s.peer)
}
