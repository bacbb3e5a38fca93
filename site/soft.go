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
	"atoll/site/core"
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
	written := 0
	now := uint64(time.Now().UnixMilli())
	s.mu.Lock()
	for _, k := range order {
		raw, err := s.writeSoftLocked(now, k.kind, k.key, soft[k])
		if err != nil {
			errs = append(errs, err)
		} else if raw != nil {
			written++
		}
	}
	rd := s.core.Ready()
	s.persist(rd)
	s.mu.Unlock()
	s.counter.softWritten.Add(uint64(written))
	s.do(rd)
	return env, written, errors.Join(errs...)
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
	raw, err := s.core.WriteSoft(s.signer.Load(), now, kind, key, fields)
	if err != nil {
		if withdraw {
			return nil, nil // its workload went meanwhile: the record went with it
		}
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	return raw, nil
}

// persistSoft writes what the held soft records gained and lost (Ready.Soft), and wakes
// what waits for the state to change; mu must be held.
func (s *Site) persistSoft(chs []crdt.SoftChange) {
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

// sendSoft queues soft records this site wrote for peers' soft push streams. A slow or
// cut-off peer's full queue drops them: it asks for a soft session instead.
func (s *Site) sendSoft(pushes []core.SoftPush) {
	if len(pushes) == 0 || s.cfg.Observer {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ps := range pushes {
		for _, name := range ps.To {
			p := s.links[name]
			if p == nil {
				continue
			}
			select {
			case p.soft <- ps.Raw:
			default:
				s.counter.dropped.Add(1)
				s.core.WantSoft(name)
			}
		}
	}
}

// wantSoft asks for a soft session with a peer.
func (s *Site) wantSoft(name string) {
	s.mu.Lock()
	s.core.WantSoft(name)
	s.mu.Unlock()
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
				s.wantSoft(p.name)
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
			s.wantSoft(p.name)
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
		var invalid int
		var allowed bool
		rd := s.step(func(cr *core.Core) { _, invalid, allowed = cr.ReceiveSoft(c.Peer, frames, time.Now()) })
		s.counter.softIn.Add(uint64(len(frames)))
		s.counter.rejected.Add(uint64(invalid))
		s.do(rd)
		if !allowed || err != nil {
			return
		}
	}
}

// softLoop runs the soft sessions: every Tuning.SoftEvery with the peers that asked for
// one (or, at a replica that follows, with its leader), and every Tuning.SoftSafety with
// a random live peer too (core.SoftPeers).
func (s *Site) softLoop(ctx context.Context) {
	last := time.Now()
	s.every(ctx, s.cfg.Tuning.SoftEvery, nil, func() {
		if s.raft != nil && !s.leader() {
			a, _ := s.raft.LeaderWithID()
			s.runSoft(ctx, s.cfg.Name, string(a), false)
			return
		}
		safety := time.Since(last) >= s.cfg.Tuning.SoftSafety
		if safety {
			last = time.Now()
		}
		s.mu.Lock()
		names := s.core.SoftPeers(safety)
		s.mu.Unlock()
		for _, name := range names {
			if p := s.peer(name); p != nil {
				s.runSoft(ctx, name, s.peerAddr(p), true)
			}
		}
	})
}

// runSoft runs one soft session; if it fails, a peer (want) asks for another.
func (s *Site) runSoft(ctx context.Context, name, addr string, want bool) {
	if addr == "" {
		return
	}
	if err := s.initiateSoft(ctx, name, addr); err != nil && ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("soft session failed", "peer", name, "err", err)
		if want {
			s.wantSoft(name)
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
	sess, first := s.core.InitiateSoft(name, time.Now())
	s.mu.Unlock()
	return s.converseSoft(c, sess, first)
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
	sess, err := s.core.RespondSoft(c.Peer, time.Now())
	s.mu.Unlock()
	if err != nil {
		s.counter.refusedFrames.Add(1)
		return
	}
	_ = c.SetDeadline(time.Now().Add(s.sync.SessionTimeout.D()))
	if err := s.converseSoft(c, sess, nil); err != nil && s.ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("soft session failed", "peer", c.Peer, "err", err)
	}
}

// converseSoft exchanges the frames of a soft session until it ends, then closes it.
func (s *Site) converseSoft(c *transport.Conn, sess *core.SoftSession, first []byte) error {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	defer func() {
		s.mu.Lock()
		s.core.EndSoft(sess, time.Now())
		s.mu.Unlock()
		st := sess.Stats()
		s.counter.softSessions.Add(1)
		s.counter.softBytes.Add(uint64(st.BytesIn + st.BytesOut))
		s.counter.softIn.Add(uint64(st.Received))
		s.counter.rejected.Add(uint64(st.Rejected))
		if st.BytesIn+st.BytesOut > 1<<20 {
			s.log.Info("large soft session", "peer", c.Peer, "bytesIn", st.BytesIn, "bytesOut", st.BytesOut,
				"received", st.Received, "held", st.Held, "bucketed", st.Buckets)
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
	for !sess.Done() {
		in, err := peering.ReadFrame(r, crdt.MaxSoftFrameBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("peer closed the soft session early")
			}
			return err
		}
		var out [][]byte
		rd := s.step(func(cr *core.Core) { out, err = cr.StepSoft(sess, in, time.Now()) })
		s.do(rd)
		if errors.Is(err, core.ErrOverBudget) {
			s.overBudget(c.Peer)
		}
		if err != nil {
			return err
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
