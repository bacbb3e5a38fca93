package site

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/store"
	"atoll/site/transport"
)

// Soft state (docs/adr/0010-soft-state.md): the site writes its clusters' health and
// capacity and its workloads' status as soft records, the latest one per object, pushed
// to every live peer at once on channel 'Q' and reconciled by soft sessions on channel
// 'V' (crdt/softsync.go). Pushes ride TCP streams, so a record is lost only where the
// sender sees it: a full queue, a failed dial or write. A site runs a soft session with a
// peer when it comes alive or lost a record, with a random live peer every Tuning.SoftSafety as
// a safety net, and at a replica that follows, with its leader every Tuning.SoftEvery. An earlier release's sites do not have these
// channels: they refuse the streams, and go on seeing the soft fields those sites wrote
// in the DAG.

const (
	chanSoft     byte = 'V'
	chanSoftPush byte = 'Q'
)

// record writes ops of this site's own objects: soft fields as soft records (one per
// object, holding every soft field it had with ops applied), the rest as one change.
// Removing a cluster or a status withdraws its soft record and removes what the DAG
// holds of it. It returns the change (nil if every op was soft) and how many records it
// wrote.
func (s *Site) record(ops []crdt.Op) (*crdt.Envelope, int, error) {
	type obj struct {
		kind crdt.Kind
		key  string
	}
	var hard []crdt.Op
	var order []obj
	soft := map[obj][]crdt.Op{}
	s.mu.Lock()
	for _, op := range ops {
		k := obj{op.Kind, op.Key}
		isRemove := op.Type == crdt.OpRemove && (op.Kind == crdt.KindCluster || op.Kind == crdt.KindStatus)
		if !isRemove && !crdt.IsSoft(op.Kind, op.Field) || isRemove && s.rep.InDAG(op.Kind, op.Key) {
			hard = append(hard, op)
		}
		if isRemove || crdt.IsSoft(op.Kind, op.Field) {
			if _, ok := soft[k]; !ok {
				order = append(order, k)
			}
			soft[k] = append(soft[k], op)
		}
	}
	s.mu.Unlock()
	var errs []error
	var env *crdt.Envelope
	if len(hard) > 0 {
		var err error
		if env, err = s.Write(hard); err != nil {
			errs = append(errs, err)
		}
	}
	if len(order) == 0 {
		return env, 0, errors.Join(errs...)
	}
	if s.cfg.Observer {
		return env, 0, errors.Join(append(errs, ErrObserver)...)
	}
	if !s.leader() {
		return env, 0, errors.Join(append(errs, ErrNotLeader)...)
	}
	var raws [][]byte
	now := uint64(time.Now().UnixMilli())
	s.mu.Lock()
	for _, k := range order {
		raw, err := s.writeSoftLocked(now, k.kind, k.key, soft[k])
		if err != nil {
			errs = append(errs, err)
		} else if raw != nil {
			raws = append(raws, raw)
		}
	}
	s.persistSoft()
	s.mu.Unlock()
	s.counter.softWritten.Add(uint64(len(raws)))
	for _, raw := range raws {
		s.pushSoft(raw)
	}
	return env, len(raws), errors.Join(errs...)
}

// writeSoftLocked applies ops to an object's soft fields and signs and holds the record
// (nil if there was nothing to withdraw); mu must be held.
func (s *Site) writeSoftLocked(now uint64, kind crdt.Kind, key string, ops []crdt.Op) ([]byte, error) {
	cur := map[string][]byte{}
	held := false
	if rec, _, ok := s.rep.Soft(kind, key); ok {
		held = true
		for _, f := range rec.Fields {
			cur[f.Name] = f.Value
		}
	} else if obj, ok := s.rep.Object(kind, key); ok { // as an earlier release wrote it
		for name, v := range obj {
			if crdt.IsSoft(kind, name) {
				cur[name] = v.Bytes
			}
		}
	}
	withdraw := false
	for _, op := range ops {
		switch op.Type {
		case crdt.OpSet:
			cur[op.Field] = op.Value
		case crdt.OpDelete:
			delete(cur, op.Field)
		case crdt.OpRemove:
			clear(cur)
			withdraw = true
		}
	}
	if withdraw && !held {
		return nil, nil // nothing soft to withdraw
	}
	fields := make([]crdt.SoftField, 0, len(cur))
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		fields = append(fields, crdt.SoftField{Name: name, Value: cur[name]})
	}
	raw, err := s.rep.WriteSoft(s.signer.Load(), now, kind, key, fields)
	if err != nil {
		if withdraw {
			return nil, nil // its workload went meanwhile: the record went with it
		}
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	return raw, nil
}

// persistSoft writes what the held soft records gained and lost, and wakes what waits
// for the state to change; mu must be held.
func (s *Site) persistSoft() {
	chs := s.rep.TakeSoft()
	if len(chs) == 0 {
		return
	}
	close(s.arrived)
	s.arrived = make(chan struct{})
	rows := make([]store.SoftRow, len(chs))
	for i, c := range chs {
		rows[i] = store.SoftRow{Key: softRowKey(c.Kind, c.Key), Raw: c.Raw}
	}
	if err := s.st.PutSoft(rows); err != nil {
		s.fatal(err)
	}
}

func softRowKey(kind crdt.Kind, key string) []byte { return append([]byte{byte(kind)}, key...) }

// restoreSoft holds the soft records of the data file, after its changes.
func restoreSoft(st *store.Store, rep *crdt.Replica) error {
	n, err := st.SoftCount()
	if err != nil {
		return fmt.Errorf("soft records: %w", err)
	}
	rep.ReserveSoft(n)
	err = st.Soft(func(raw []byte) error { return rep.RestoreSoft(raw) })
	if err != nil {
		return fmt.Errorf("soft records: %w", err)
	}
	return nil
}

// pushSoft queues a record this site wrote for every live peer.
func (s *Site) pushSoft(raw []byte) {
	if s.cfg.Observer {
		return
	}
	for _, name := range s.live() {
		p := s.peer(name)
		if p == nil {
			continue
		}
		select {
		case p.soft <- raw:
		default: // a slow or cut-off peer: a soft session repairs it
			s.counter.dropped.Add(1)
			p.softWant.Store(true)
		}
	}
}

// softPushLoop writes a peer's soft queue to one long-lived stream, redialing after
// errors (a record lost on the way is repaired by a soft session).
func (s *Site) softPushLoop(p *peer) {
	defer s.wg.Done()
	var conn net.Conn
	var w *bufio.Writer
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := s.cfg.Tuning.PushBackoff
	for {
		var raw []byte
		select {
		case <-p.stop:
			return
		case raw = <-p.soft:
		}
		if conn == nil {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Tuning.DialTimeout)
			c, err := s.trans.Dial(ctx, s.peerAddr(p), p.name, chanSoftPush)
			cancel()
			if err != nil {
				s.log.Debug("soft push dial", "peer", p.name, "err", err)
				p.softWant.Store(true)
				select {
				case <-p.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, s.cfg.Tuning.SoftPushBackoffMax)
				continue
			}
			backoff = s.cfg.Tuning.PushBackoff
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Tuning.WriteTimeout))
		err := peering.WriteFrame(w, raw)
		for more := true; err == nil && more; {
			select {
			case raw = <-p.soft:
				err = peering.WriteFrame(w, raw)
			default:
				more = false
			}
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.log.Debug("soft push write", "peer", p.name, "err", err)
			p.softWant.Store(true)
			conn.Close()
			conn = nil
		}
	}
}

// serveSoftPush reads a peer's soft push stream: records its writer signed, each
// checked and applied; the records that arrived together are stored in one transaction
// (as for changes, servePush). A peer that sends invalid records is struck as for invalid
// changes, and refused at the budget's limit.
func (s *Site) serveSoftPush(c *transport.Conn) {
	defer c.Close()
	if _, ok := s.keyOf(c.Peer); !ok {
		return
	}
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		frames, err, ok := s.readBurst(r, c.Peer, crdt.MaxSoftRecordBytes)
		if !ok {
			return
		}
		var bad []error
		s.mu.Lock()
		for _, raw := range frames {
			if _, rerr := s.rep.ReceiveSoft(raw); rerr != nil && !errors.Is(rerr, crdt.ErrSoftWriter) {
				bad = append(bad, rerr)
			}
		}
		s.persistSoft()
		s.mu.Unlock()
		s.counter.softIn.Add(uint64(len(frames)))
		for _, e := range bad {
			if !s.strike(c.Peer, "soft record", e) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// strike counts one invalid thing a peer sent, and reports whether it is still allowed.
func (s *Site) strike(peer, what string, err error) bool {
	s.counter.rejected.Add(1)
	s.mu.Lock()
	refused := s.core.Strike(peer, time.Now())
	s.mu.Unlock()
	if !refused {
		s.log.Warn("invalid "+what+" from peer", "peer", peer, "err", err)
		s.events.add("site", peer, fmt.Sprintf("rejected %s from %s: %v", what, peer, err))
	}
	return !refused
}

// softLoop runs the soft sessions: every Tuning.SoftEvery with the peers that need one (or, at a
// replica that follows, with its leader), and every Tuning.SoftSafety with a random live peer.
func (s *Site) softLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tuning.SoftEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.raft != nil && !s.leader() {
			a, _ := s.raft.LeaderWithID()
			s.runSoft(ctx, s.cfg.Name, string(a), nil)
			continue
		}
		safety := time.Since(last) >= s.cfg.Tuning.SoftSafety
		if safety {
			last = time.Now()
		}
		for _, p := range s.softPeers(safety) {
			p.softWant.Store(false)
			s.runSoft(ctx, p.name, s.peerAddr(p), p)
		}
	}
}

// softPeers returns the live peers that asked for a soft session, and one more at random
// if safety is set.
func (s *Site) softPeers(safety bool) []*peer {
	var out []*peer
	live := s.live()
	for _, name := range live {
		if p := s.peer(name); p != nil && p.softWant.Load() {
			out = append(out, p)
		}
	}
	if safety && len(live) > 0 {
		s.mu.Lock()
		name := live[s.core.Rand().IntN(len(live))]
		s.mu.Unlock()
		if p := s.peer(name); p != nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// runSoft runs one soft session; if it fails, the peer (if any) asks for another.
func (s *Site) runSoft(ctx context.Context, name, addr string, p *peer) {
	if addr == "" {
		return
	}
	if err := s.initiateSoft(ctx, name, addr); err != nil && ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("soft session failed", "peer", name, "err", err)
		if p != nil {
			p.softWant.Store(true)
		}
	}
}

// initiateSoft runs one soft session with a peer.
func (s *Site) initiateSoft(ctx context.Context, name, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, s.sync.SessionTimeout.D())
	defer cancel()
	c, err := s.trans.Dial(ctx, addr, name, chanSoft)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	s.mu.Lock()
	sess, first := s.rep.InitiateSoft()
	s.mu.Unlock()
	return s.converseSoft(c, name, sess, first)
}

// serveSoft answers a soft session: from a site of the charter, an observer, or another
// replica of this site.
func (s *Site) serveSoft(c *transport.Conn) {
	defer c.Close()
	_, ok := s.keyOf(c.Peer)
	if !ok {
		_, ok = s.observerKey(c.Peer)
	}
	if !ok && c.Peer != s.cfg.Name {
		return
	}
	s.mu.Lock()
	entered := s.core.Enter(c.Peer)
	s.mu.Unlock()
	if !entered {
		s.counter.refusedFrames.Add(1)
		return
	}
	defer func() {
		s.mu.Lock()
		s.core.Leave(c.Peer)
		s.mu.Unlock()
	}()
	_ = c.SetDeadline(time.Now().Add(s.sync.SessionTimeout.D()))
	s.mu.Lock()
	sess := s.rep.RespondSoft()
	s.mu.Unlock()
	if err := s.converseSoft(c, c.Peer, sess, nil); err != nil && s.ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("soft session failed", "peer", c.Peer, "err", err)
	}
}

// converseSoft exchanges the frames of a soft session with peer until it ends.
func (s *Site) converseSoft(c *transport.Conn, peer string, sess *crdt.SoftSession, first []byte) error {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	s.mu.Lock()
	sess.NoBuckets = time.Since(s.softCompared[peer]) < s.cfg.Tuning.SoftBuckets
	s.mu.Unlock()
	defer func() {
		if sess.Compared() {
			s.mu.Lock()
			s.softCompared[peer] = time.Now()
			s.mu.Unlock()
		}
		s.counter.softSessions.Add(1)
		s.counter.softBytes.Add(uint64(sess.BytesIn + sess.BytesOut))
		s.counter.softIn.Add(uint64(sess.Received))
		if sess.BytesIn+sess.BytesOut > 1<<20 {
			s.log.Info("large soft session", "peer", c.Peer, "bytesIn", sess.BytesIn, "bytesOut", sess.BytesOut,
				"received", sess.Received, "held", sess.Held, "bucketed", sess.Buckets)
		}
	}()
	if first != nil {
		if err := peering.WriteFrame(w, first); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	rejected := 0
	for !sess.Done() {
		in, err := peering.ReadFrame(r, crdt.MaxSoftFrameBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("peer closed the soft session early")
			}
			return err
		}
		if !s.admit(c.Peer, len(in)) {
			return errors.New("peer over budget")
		}
		s.mu.Lock()
		out, err := sess.Step(in)
		s.persistSoft()
		s.mu.Unlock()
		if err != nil {
			return err
		}
		for ; rejected < sess.Rejected; rejected++ {
			if !s.strike(c.Peer, "soft record", errors.New("invalid soft record in a session")) {
				return errors.New("peer refused after invalid soft records")
			}
		}
		for _, f := range out {
			if err := peering.WriteFrame(w, f); err != nil {
				return err
			}
		}
		if len(out) > 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}
