package site

import (
	"bufio"
	"context"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/transport"
)

// A replica that stored changes as leader and stopped before the log carried them keeps
// them marked (site/core, replicas.go). If it comes back as a follower, the log will never bring
// them back, and the other replicas and sites would never hear of them while it follows.
// So a follower forwards what it still has marked to the leader, which receives them as
// from a peer and appends them to the log; their marks clear when the log applies them.

// chanForward carries a follower's marked changes to its site's leader.
const chanForward byte = 'F'

// forwardLoop forwards this replica's marked changes to the leader while it follows.
func (s *Site) forwardLoop(ctx context.Context) {
	s.every(ctx, s.cfg.Tuning.ForwardEvery, nil, func() {
		if s.leader() {
			return // core.Lead appended them itself
		}
		addr, _ := s.raft.LeaderWithID()
		if addr == "" {
			return
		}
		envs := s.marked(s.cfg.Tuning.ForwardBatch)
		if len(envs) == 0 {
			return
		}
		if err := s.forward(ctx, string(addr), envs); err != nil {
			s.log.Debug("forwarding changes to the leader", "leader", addr, "err", err)
			return
		}
		s.log.Info("forwarded changes stored before the log carried them to the leader", "leader", addr, "changes", len(envs))
	})
}

// forward writes envs to the replica at addr on the forward channel.
func (s *Site) forward(ctx context.Context, addr string, envs [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Tuning.ForwardTimeout)
	defer cancel()
	c, err := s.trans.Dial(ctx, addr, s.cfg.Name, chanForward)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	w := bufio.NewWriter(c)
	for _, b := range envs {
		if err := peering.WriteFrame(w, b); err != nil {
			return err
		}
	}
	return w.Flush()
}

// serveForward receives a follower's marked changes, at the leader, and appends them to
// the log (even those it already holds: the log is what clears the follower's marks).
// Only the site's own replicas may forward, and a stream carries at most Tuning.ForwardBatch.
func (s *Site) serveForward(c *transport.Conn) {
	defer c.Close()
	if c.Peer != s.cfg.Name {
		s.log.Warn("forward stream from another site refused", "peer", c.Peer)
		return
	}
	r := bufio.NewReaderSize(c, 64<<10)
	for n := 0; n < s.cfg.Tuning.ForwardBatch; n++ {
		b, err := peering.ReadFrame(r, crdt.MaxEnvelopeBytes)
		if err != nil {
			return
		}
		if !s.leader() {
			return
		}
		if _, err := crdt.DecodeEnvelope(b); err != nil {
			s.log.Warn("forwarded change refused", "err", err)
			return
		}
		s.do(s.step(func(c *core.Core) { c.Forwarded(b) }))
	}
}
