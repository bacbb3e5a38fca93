package core

import (
	"errors"
	"fmt"
	"time"

	"atoll/crdt"
)

// Soft records (crdt/soft.go; docs/adr/0010-soft-state.md): each site signs one record
// per object it owns (its clusters' health, its workloads' status), and the newest
// record wins. A site pushes the records it writes to every live peer, at once; soft
// sessions repair what a push lost, with the peers that asked for one (a new peer, a
// dropped record) every SoftEvery and with a random live peer every SoftSafety.

// SoftPush is a soft record to queue for peers.
type SoftPush struct {
	To  []string
	Raw []byte
}

// WriteSoft signs and holds this site's record of an object, and pushes it to every live
// peer.
func (c *Core) WriteSoft(signer *crdt.Signer, now uint64, kind crdt.Kind, key string, fields []crdt.SoftField) ([]byte, error) {
	raw, err := c.rep.WriteSoft(signer, now, kind, key, fields)
	if err != nil {
		return nil, err
	}
	if to := c.Live(); len(to) > 0 && !c.cfg.Observer {
		c.ready.SoftPush = append(c.ready.SoftPush, SoftPush{To: to, Raw: raw})
	}
	return raw, nil
}

// ReceiveSoft applies soft records a peer pushed, each checked, and reports how many it
// now holds, how many were invalid and whether the peer may go on: each invalid record
// is a strike, as for changes.
func (c *Core) ReceiveSoft(peer string, frames [][]byte, now time.Time) (stored, invalid int, ok bool) {
	var bad []error
	for _, raw := range frames {
		res, err := c.rep.ReceiveSoft(raw)
		switch {
		case err != nil && !errors.Is(err, crdt.ErrSoftWriter):
			bad = append(bad, err)
		case err == nil && res.Stored:
			stored++
		}
	}
	for i, err := range bad {
		if !c.strike(peer, "soft record", err, now) {
			return stored, i + 1, false
		}
	}
	return stored, len(bad), true
}

// strike counts one invalid record from peer, and reports whether it is still allowed.
// Once refused, its further invalid records are counted, not reported.
func (c *Core) strike(peer, what string, err error, now time.Time) bool {
	if c.budget.Strike(peer, now) {
		return false
	}
	c.event(Event{Kind: "site", Subject: peer, Text: fmt.Sprintf("rejected %s from %s: %v", what, peer, err),
		Log: "invalid " + what + " from peer", Attrs: []any{"peer", peer, "err", err}, Warn: true})
	return true
}

// WantSoft asks for a soft session with peer: a record for it was dropped, or its
// session failed.
func (c *Core) WantSoft(peer string) {
	if c.liveness.live[peer] != nil {
		c.softWant[peer] = true
	}
}

// SoftPeers returns the live peers that asked for a soft session, sorted, and with
// safety one more at random; it clears their asks.
func (c *Core) SoftPeers(safety bool) []string {
	var out []string
	live := c.Live()
	for _, name := range live {
		if c.softWant[name] {
			out = append(out, name)
			delete(c.softWant, name)
		}
	}
	if safety && len(live) > 0 {
		if name := live[c.rng.IntN(len(live))]; !c.softWant[name] && !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// SoftSession is one soft session with a peer (a site, an observer or another replica
// of this site), started here or by the peer.
type SoftSession struct {
	peer    string
	inbound bool
	struck  int // the session's invalid records already struck
	s       *crdt.SoftSession
}

// Done reports whether the session has nothing more to exchange.
func (s *SoftSession) Done() bool { return s.s.Done() }

// SoftStats are what a soft session moved.
type SoftStats struct {
	Received, Held, Rejected int // records received, now held, and invalid
	Buckets                  int // writers compared by bucket
	BytesIn, BytesOut        int
}

// Stats are what the session moved so far.
func (s *SoftSession) Stats() SoftStats {
	return SoftStats{Received: s.s.Received, Held: s.s.Held, Rejected: s.s.Rejected, Buckets: s.s.Buckets, BytesIn: s.s.BytesIn, BytesOut: s.s.BytesOut}
}

// InitiateSoft starts a soft session with peer and returns the first frame. Writers are
// compared by bucket at most once per SoftBuckets with a peer.
func (c *Core) InitiateSoft(peer string, now time.Time) (*SoftSession, []byte) {
	s, first := c.rep.InitiateSoft()
	s.NoBuckets = now.Sub(c.softCompared[peer]) < c.cfg.SoftBuckets
	return &SoftSession{peer: peer, s: s}, first
}

// RespondSoft answers a soft session peer started, within the inbound session slots.
func (c *Core) RespondSoft(peer string, now time.Time) (*SoftSession, error) {
	if !c.Enter(peer) {
		return nil, ErrTooManySessions
	}
	s := c.rep.RespondSoft()
	s.NoBuckets = now.Sub(c.softCompared[peer]) < c.cfg.SoftBuckets
	return &SoftSession{peer: peer, inbound: true, s: s}, nil
}

// StepSoft takes one frame of a soft session, charged to the peer's budget, and returns
// the frames to send once the Ready it leaves is persisted.
func (c *Core) StepSoft(s *SoftSession, in []byte, now time.Time) ([][]byte, error) {
	if !c.budget.Allow(s.peer, len(in), now) {
		return nil, ErrOverBudget
	}
	out, err := s.s.Step(in)
	if err != nil {
		return nil, err
	}
	for ; s.struck < s.s.Rejected; s.struck++ {
		if !c.strike(s.peer, "soft record", errors.New("invalid soft record in a session"), now) {
			return nil, ErrRefused
		}
	}
	return out, nil
}

// EndSoft closes a soft session.
func (c *Core) EndSoft(s *SoftSession, now time.Time) {
	if s.s.Compared() {
		c.softCompared[s.peer] = now
	}
	if s.inbound {
		c.Leave(s.peer)
	}
}
