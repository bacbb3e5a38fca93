package chaos

import (
	"encoding/binary"
	"fmt"

	"atoll/crdt"
)

// softAttack makes Byzantine node b misbehave with soft state, towards random correct
// peers: equivocate, replay, sign other sites' objects, sign with keys rotated out or
// admitted by a rogue charter change, send malformed records and session frames, and play
// with a cluster it describes only in the DAG. Valid new records stop at the heal, as
// valid changes do; the junk goes on.
func (s *sim) softAttack(b *node) {
	victims := s.correct()
	victim := func() int { return victims[s.rng.IntN(len(victims))].idx }
	send := func(to int, raw []byte) {
		s.net.send(message{from: b.idx, to: to, kind: msgSoftPush, data: raw}, s.tick)
	}
	switch r := s.rng.IntN(7); r {
	case 0: // equivocation: two records of one object with one Seq, to two peers
		if s.healing {
			return
		}
		kind, key, field := s.byzObject(b)
		seq := s.byzSeq()
		for _, v := range []string{"a", "b"} {
			raw := s.signSoft(b.signer, seq, kind, key, field, v)
			b.soft.sent = append(b.soft.sent, raw)
			send(victim(), raw)
		}
	case 1: // replay of an old record of its own: after the heal, only one already out
		var old [][]byte
		for _, raw := range b.soft.sent {
			if r, ok := s.reached[crdt.SoftID(raw)]; ok && len(r.kept) > 0 || !s.healing {
				old = append(old, raw)
			}
		}
		if len(old) > 0 {
			send(victim(), old[s.rng.IntN(len(old))])
		}
	case 2: // forgery: another site's object signed with its own key, a flipped bit, a
		// site the charter does not know
		other := victims[s.rng.IntN(len(victims))]
		var raw []byte
		switch s.rng.IntN(3) {
		case 0:
			raw = s.signSoft(b.signer, s.nowSeq()+1e6, crdt.KindCluster, crdt.ClusterKey(other.name, "c0"), "health", "down")
		case 1:
			raw = s.signSoft(b.signer, s.nowSeq(), crdt.KindStatus, crdt.StatusKey("shop", "w0", b.name, "c0"), "ready", "0")
			raw[len(raw)-1-s.rng.IntN(64)] ^= 1 << s.rng.IntN(8)
		default:
			raw = s.signSoft(b.signer, s.nowSeq(), crdt.KindCluster, crdt.ClusterKey("ghost", "c0"), "health", "ok")
		}
		send(other.idx, raw)
	case 3: // a key it should not have: a correct site's rotated out, or a rogue site's
		var signers []*crdt.Signer
		var names []string
		for _, rk := range s.revoked {
			if rk.role == "site" {
				signers, names = append(signers, rk.signer), append(names, rk.site)
			}
		}
		for _, rs := range s.rogueSites {
			signers, names = append(signers, rs.signer), append(names, rs.name)
		}
		if len(signers) == 0 {
			return
		}
		i := s.rng.IntN(len(signers))
		key := crdt.ClusterKey(names[i], "c0")
		kind, field := crdt.KindCluster, "health"
		if s.rng.IntN(2) == 0 {
			kind, key, field = crdt.KindStatus, crdt.StatusKey("shop", fmt.Sprintf("w%d", s.rng.IntN(8)), names[i], "c0"), "ready"
		}
		send(victim(), s.signSoft(signers[i], s.nowSeq()+1e9, kind, key, field, "stolen"))
	case 4: // malformed records: random bytes, truncated, trailing bytes
		raw := s.signSoft(b.signer, s.nowSeq(), crdt.KindCluster, crdt.ClusterKey(b.name, "c1"), "health", "ok")
		switch s.rng.IntN(3) {
		case 0:
			raw = make([]byte, 1+s.rng.IntN(200))
			for i := range raw {
				raw[i] = byte(s.rng.Uint32())
			}
		case 1:
			raw = raw[:s.rng.IntN(len(raw))]
		default:
			raw = append(raw, 0)
		}
		send(victim(), raw)
	case 5: // a soft session opened with junk: a bad frame, or records that are forgeries
		s.nextSID++
		var frame []byte
		if s.rng.IntN(2) == 0 {
			frame = make([]byte, 1+s.rng.IntN(64))
			for i := range frame {
				frame[i] = byte(s.rng.Uint32())
			}
			frame[0] = "VREBD"[s.rng.IntN(5)]
		} else {
			forged := s.signSoft(b.signer, s.nowSeq(), crdt.KindCluster, crdt.ClusterKey(victims[0].name, "c1"), "health", "down")
			frame = binary.AppendUvarint([]byte{'R'}, 1)
			frame = binary.AppendUvarint(frame, uint64(len(forged)))
			frame = append(frame, forged...)
		}
		s.net.send(message{from: b.idx, to: victim(), kind: msgSoftReq, sid: s.nextSID, frames: [][]byte{frame}}, s.tick)
	case 6: // a cluster only in the DAG: describe it, report statuses in it, remove it
		if s.healing {
			return
		}
		s.dagCluster(b)
	}
}

// byzObject picks one of b's own soft objects.
func (s *sim) byzObject(b *node) (crdt.Kind, string, string) {
	c := fmt.Sprintf("c%d", s.rng.IntN(2))
	if s.rng.IntN(3) == 0 {
		return crdt.KindCluster, crdt.ClusterKey(b.name, c), "health"
	}
	return crdt.KindStatus, crdt.StatusKey("shop", fmt.Sprintf("w%d", s.rng.IntN(8)), b.name, c), "ready"
}

// byzSeq is the Seq a Byzantine writer picks: the clock, a little behind, or far ahead.
func (s *sim) byzSeq() uint64 {
	switch s.rng.IntN(4) {
	case 0:
		return s.nowSeq() + 1e6
	case 1:
		return uint64(s.rng.IntN(s.tick + 1))
	}
	return s.nowSeq()
}

// signSoft signs a record of one field by signer, whoever the object's writer is.
func (s *sim) signSoft(signer *crdt.Signer, seq uint64, kind crdt.Kind, key, field, value string) []byte {
	rec := &crdt.SoftRecord{Kind: kind, Key: key, Seq: seq, Fields: []crdt.SoftField{{Name: field, Value: []byte(value)}}}
	raw, err := crdt.SignSoft(s.genesisID, rec, signer)
	if err != nil {
		panic(fmt.Sprintf("chaos: seed %d: signing a soft record: %v", s.cfg.Seed, err))
	}
	return raw
}

// dagCluster makes b describe its cluster c2 in the DAG alone (no soft record of it),
// report a status there as a soft record, or remove the cluster: a status record is held
// while its cluster is known, and only then.
func (s *sim) dagCluster(b *node) {
	key := crdt.ClusterKey(b.name, "c2")
	var op crdt.Op
	switch s.rng.IntN(3) {
	case 0:
		op = crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: key, Field: "zone", Value: []byte(fmt.Sprint(s.rng.IntN(9)))}
	case 1:
		op = crdt.Op{Type: crdt.OpRemove, Kind: crdt.KindCluster, Key: key}
	default:
		raw := s.signSoft(b.signer, s.byzSeq(), crdt.KindStatus, crdt.StatusKey("shop", fmt.Sprintf("w%d", s.rng.IntN(8)), b.name, "c2"), "ready", fmt.Sprint(s.rng.IntN(9)))
		b.soft.sent = append(b.soft.sent, raw)
		for range 2 {
			s.net.send(message{from: b.idx, to: s.correct()[s.rng.IntN(len(s.correct()))].idx, kind: msgSoftPush, data: raw}, s.tick)
		}
		return
	}
	_, res, err := b.rep.Write(b.signer, []crdt.Op{op}, nil, nil)
	if err != nil {
		return // its own replica may not know its key any more; nothing to send
	}
	s.persist(b, res)
	s.push(b, res.Stored)
}
