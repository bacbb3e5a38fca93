package site

import (
	"context"

	"atoll/crdt"
)

// Acknowledgements (docs/adr/0010-soft-state.md, decision 2). A change is stable once
// every site has a change with it in its causal past; compaction builds on that. A site
// that writes acknowledges as it goes. One that has nothing to write publishes its
// version again when it holds changes it has not acknowledged, at most once per
// Sync.Ack. Other sites' acknowledgements do not call for one, so an idle federation
// stops writing after one round.

// ackLoop acknowledges what this site holds while it leads its replicas.
func (s *Site) ackLoop(ctx context.Context) {
	s.every(ctx, s.sync.Ack.D(), func() {
		if s.cfg.Observer || !s.leader() {
			return
		}
		s.mu.Lock()
		need := s.rep.NeedsAck(s.cfg.Name)
		s.mu.Unlock()
		if !need {
			return
		}
		if _, err := s.Write(crdt.AckOps(s.cfg.Name, Version)); err != nil {
			s.log.Debug("acknowledging changes held", "err", err)
		}
	})
}

// archived reads a change back from the data file for the replica, which keeps the
// changes it compacted as skeletons (crdt/compact.go). Called under mu.
func (s *Site) archived(id crdt.Hash) (*crdt.Envelope, bool) {
	data, ok, err := s.st.Get(id)
	if err != nil || !ok {
		if err != nil {
			s.log.Warn("reading a compacted change back from the data file", "change", id.String(), "err", err)
		}
		return nil, false
	}
	env, err := crdt.DecodeEnvelope(data)
	if err != nil || env.ID != id {
		s.log.Warn("a compacted change in the data file does not decode", "change", id.String(), "err", err)
		return nil, false
	}
	return env, true
}
