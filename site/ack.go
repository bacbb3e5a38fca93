package site

import (
	"context"

	"atoll/crdt"
	"atoll/site/store"
)

// Acknowledgements (docs/adr/0010-soft-state.md, decision 2). A change is stable once
// every site has a change with it in its causal past; compaction builds on that. A site
// that writes acknowledges as it goes. One that has nothing to write publishes its
// version again when it holds changes it has not acknowledged, at most once per
// Sync.Ack. Other sites' acknowledgements do not call for one, so an idle federation
// stops writing after one round.

// ackLoop acknowledges what this site holds while it leads its replicas.
func (s *Site) ackLoop(ctx context.Context) {
	s.every(ctx, s.sync.Ack.D(), nil, func() {
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

// archived reads a change back from the data file st (nil: not open yet) for the
// replica, which keeps the changes it compacted as skeletons (crdt/compact.go). A change
// it cannot read is one the replica cannot hand on; the peer gets it elsewhere.
func archived(st *store.Store, id crdt.Hash) (*crdt.Envelope, bool) {
	if st == nil {
		return nil, false
	}
	data, ok, err := st.Get(id)
	if err != nil || !ok {
		return nil, false
	}
	env, err := crdt.DecodeEnvelope(data)
	if err != nil || env.ID != id {
		return nil, false
	}
	return env, true
}

// storeSkeletons stores beside their changes the skeletons the replica made (crdt
// TakeSkeletons), so that the next start reads them instead (store.LoadLive).
func storeSkeletons(st *store.Store, rep *crdt.Replica) error {
	sks := rep.TakeSkeletons()
	if len(sks) == 0 {
		return nil
	}
	rows := make([]store.Skeleton, len(sks))
	for i, sk := range sks {
		rows[i] = store.Skeleton{ID: sk.ID, Data: sk.Data}
	}
	return st.PutSkeletons(rows)
}
