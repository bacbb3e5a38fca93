package chaos

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"atoll/crdt"
	"atoll/site/core"
)

// Soft state in a run: correct sites write their clusters' health and capacity and their
// workloads' status as signed soft records (crdt/soft.go), pushed to a few peers when
// written or first held (like changes) and repaired by soft sessions that run beside the
// anti-entropy sessions, over the same lossy links. A session's frames of one turn travel
// as one message, numbered as a stream would number them so that a duplicate is dropped;
// a lost message stalls the session until it expires, and a later one repairs.

// tickMillis is a tick in milliseconds: soft records are numbered by the simulated clock,
// as sites number them by theirs.
const tickMillis = 100

// softNode is a node's soft sessions and what its data file holds of soft state.
type softNode struct {
	sessions map[uint64]*core.SoftSession
	active   map[uint64]int // tick each session last took a frame
	turn     map[uint64]int // the turn each session expects next from the other side
	outgoing uint64         // the soft session this node initiated, 0 if none
	// file stands for the soft records of the node's data file (row key -> record, as
	// TakeSoft reports them): site/store has no soft bucket in this tree yet, so the
	// simulation keeps the rows in memory, where a crash does not reach them.
	file map[string][]byte
	// sent lists the valid records a Byzantine node signed, for its replays.
	sent [][]byte
}

func newSoftNode() softNode {
	return softNode{sessions: map[uint64]*core.SoftSession{}, active: map[uint64]int{}, turn: map[uint64]int{}, file: map[string][]byte{}}
}

func (sn *softNode) crash() {
	clear(sn.sessions)
	clear(sn.active)
	clear(sn.turn)
	sn.outgoing = 0
}

// softStats counts soft traffic at correct sites over a run.
type softStats struct {
	written, pushed, stored, rejected  int
	sessions, failed, buckets, bytesIn int
}

func softRowKey(kind crdt.Kind, key string) string { return string(rune(kind)) + key }

// persistSoft writes to the node's file what its held soft records gained and lost.
func (s *sim) persistSoft(n *node) {
	if n.rep == nil {
		return
	}
	fileSoft(n, n.rep.TakeSoft())
}

// fileSoft writes soft records gained and lost (crdt TakeSoft, core Ready.Soft) to the
// node's file.
func fileSoft(n *node, chs []crdt.SoftChange) {
	for _, c := range chs {
		if c.Raw == nil {
			delete(n.soft.file, softRowKey(c.Kind, c.Key))
		} else {
			n.soft.file[softRowKey(c.Kind, c.Key)] = c.Raw
		}
	}
}

// restoreSoft holds the soft records of the node's file, after its changes (as a site
// does), in key order so that a seed replays exactly.
func (s *sim) restoreSoft(n *node) error {
	for _, k := range slices.Sorted(maps.Keys(n.soft.file)) {
		if err := n.rep.RestoreSoft(n.soft.file[k]); err != nil {
			return fmt.Errorf("chaos: %s: restoring soft record: %w", n.name, err)
		}
	}
	s.persistSoft(n)
	return nil
}

// nowSeq is the Seq a site gives a record it writes now.
func (s *sim) nowSeq() uint64 { return uint64(s.tick+1) * tickMillis }

// writeSoft has correct node n's core write a record of its own object; the core pushes
// it to every peer.
func (s *sim) writeSoft(n *node, kind crdt.Kind, key string, fields []crdt.SoftField) {
	raw, err := n.core.WriteSoft(n.signer, s.nowSeq(), kind, key, fields)
	if err != nil {
		panic(fmt.Sprintf("chaos: seed %d: %s: a correct soft write of %s %q was refused: %v", s.cfg.Seed, n.name, kind, key, err))
	}
	s.softStats.written++
	s.reach(n, raw)
	s.ready(n)
}

// softFields returns the fields of the record n holds for an object, with set applied:
// a record carries every soft field of its object.
func softFields(n *node, kind crdt.Kind, key string, set map[string]string) []crdt.SoftField {
	cur := map[string][]byte{}
	if rec, _, ok := n.rep.Soft(kind, key); ok {
		for _, f := range rec.Fields {
			cur[f.Name] = f.Value
		}
	}
	for name, v := range set {
		cur[name] = []byte(v)
	}
	out := make([]crdt.SoftField, 0, len(cur))
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		out = append(out, crdt.SoftField{Name: name, Value: cur[name]})
	}
	return out
}

// bootClusters has correct node n describe its two clusters: the hard fields (labels,
// zone) as a change, health and capacity as a soft record each. Statuses name these
// clusters, and a status record is held only once its cluster is known.
func (s *sim) bootClusters(n *node) {
	var ops []crdt.Op
	for c := range 2 {
		key := crdt.ClusterKey(n.name, fmt.Sprintf("c%d", c))
		ops = append(ops,
			crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: key, Field: "zone", Value: []byte(fmt.Sprintf("%s-%d", n.jur, c))},
			crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: key, Field: "labels/tier", Value: []byte("gold")})
	}
	if _, err := s.coreWrite(n, n.signer, ops, nil, nil); err != nil {
		panic(fmt.Sprintf("chaos: seed %d: %s: describing its clusters was refused: %v", s.cfg.Seed, n.name, err))
	}
	s.publishClusters(n)
}

// publishClusters writes a soft record of each of n's clusters: at boot, and again when
// n's key is rotated (the records signed with its old key are no longer held).
func (s *sim) publishClusters(n *node) {
	for c := range 2 {
		key := crdt.ClusterKey(n.name, fmt.Sprintf("c%d", c))
		s.writeSoft(n, crdt.KindCluster, key, softFields(n, crdt.KindCluster, key, map[string]string{
			"health": "ok", "k8sVersion": "1.31", "nodes": "3", "readyNodes": "3", "allocatable/cpu": "64000",
		}))
	}
}

// receiveSoft hands a pushed record to n's core. Sites do not relay soft records: a
// record a push did not bring comes by a soft session.
func (s *sim) receiveSoft(n *node, m message) {
	stored, invalid, _ := n.core.ReceiveSoft(s.nodes[m.from].name, [][]byte{m.data}, s.now())
	s.ready(n)
	if n.byz {
		return
	}
	s.reach(n, m.data)
	s.softStats.rejected += invalid
	s.softStats.stored += stored
}

// startSoft begins a soft session from n to peer.
func (s *sim) startSoft(n *node, peer int) {
	s.nextSID++
	sid := s.nextSID
	sess, first := n.core.InitiateSoft(s.nodes[peer].name, s.now())
	n.soft.sessions[sid], n.soft.active[sid], n.soft.turn[sid], n.soft.outgoing = sess, s.tick, 1, sid
	s.net.send(message{from: n.idx, to: peer, kind: msgSoftReq, sid: sid, frames: [][]byte{first}}, s.tick)
}

// softStep feeds one turn's frames to n's side of a soft session and sends its answer.
func (s *sim) softStep(n *node, m message) {
	sess, ok := n.soft.sessions[m.sid]
	switch {
	case !ok && (m.kind != msgSoftReq || m.turn != 0):
		return // a late turn of a session that ended
	case !ok:
		var err error
		if sess, err = n.core.RespondSoft(s.nodes[m.from].name, s.now()); err != nil {
			return // too many soft sessions from that peer: it times out
		}
		n.soft.sessions[m.sid] = sess
	case m.turn < n.soft.turn[m.sid]:
		return // a duplicate
	}
	n.soft.active[m.sid], n.soft.turn[m.sid] = s.tick, m.turn+2
	reply := msgSoftResp
	if m.kind == msgSoftResp {
		reply = msgSoftReq
	}
	var out [][]byte
	for _, f := range m.frames {
		if !n.byz {
			s.reachFrame(n, f)
		}
		o, err := n.core.StepSoft(sess, f, s.now())
		s.ready(n)
		if err != nil {
			// A frame out of turn (a lost or repeated message), a hostile one, or a peer
			// over its budget: the session ends here, and a later one repairs.
			if !n.byz && !errors.Is(err, crdt.ErrSoftSession) && !errors.Is(err, core.ErrOverBudget) && !errors.Is(err, core.ErrRefused) {
				panic(fmt.Sprintf("chaos: seed %d: %s: soft session: %v", s.cfg.Seed, n.name, err))
			}
			s.endSoft(n, m.sid, true)
			return
		}
		out = append(out, o...)
	}
	if len(out) > 0 {
		s.net.send(message{from: n.idx, to: m.from, kind: reply, sid: m.sid, turn: m.turn + 1, frames: out}, s.tick)
	}
	if sess.Done() {
		s.endSoft(n, m.sid, false)
	}
}

// endSoft ends a soft session of n and counts what it did at a correct node; sessions
// (ended well or failed) count at their initiator.
func (s *sim) endSoft(n *node, sid uint64, failed bool) {
	sess := n.soft.sessions[sid]
	initiated := n.soft.outgoing == sid
	delete(n.soft.sessions, sid)
	delete(n.soft.active, sid)
	delete(n.soft.turn, sid)
	if initiated {
		n.soft.outgoing = 0
	}
	if sess != nil && n.core != nil {
		n.core.EndSoft(sess, s.now())
	}
	if sess == nil || n.byz {
		return
	}
	ss, st := sess.Stats(), &s.softStats
	st.stored += ss.Held
	st.rejected += ss.Rejected
	st.buckets += ss.Buckets
	st.bytesIn += ss.BytesIn
	switch {
	case !initiated:
	case failed || !sess.Done():
		st.failed++
	default:
		st.sessions++
	}
}

// expireSoft ends the soft sessions of n idle for 10 ticks: a frame was lost.
func (s *sim) expireSoft(n *node) {
	var old []uint64
	for sid, t := range n.soft.active {
		if s.tick-t > 10 {
			old = append(old, sid)
		}
	}
	slices.Sort(old)
	for _, sid := range old {
		s.endSoft(n, sid, true)
	}
}

// endSoftSessions ends every soft session of n (at the heal).
func (s *sim) endSoftSessions(n *node) {
	for _, sid := range slices.Sorted(maps.Keys(n.soft.sessions)) {
		s.endSoft(n, sid, true)
	}
}
