package site

import (
	"bufio"
	"context"
	"errors"
	"io"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/transport"
)

// maxSyncFrame bounds one frame of a session.
const maxSyncFrame = crdt.MaxSyncMessageBytes

// syncLoop starts the anti-entropy sessions the core says are due.
func (s *Site) syncLoop(ctx context.Context) {
	s.every(ctx, s.cfg.Tuning.SyncTick, s.wake, func() {
		s.mu.Lock()
		due := s.core.Due(time.Now())
		s.mu.Unlock()
		for _, name := range due {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := s.initiate(ctx, name)
				if err != nil && ctx.Err() == nil {
					s.counter.sessionFails.Add(1)
					s.log.Debug("sync session failed", "peer", name, "err", err)
				}
			}()
		}
	})
}

// initiate runs one sync session with a peer.
func (s *Site) initiate(ctx context.Context, name string) (err error) {
	s.mu.Lock()
	sess, hello, err := s.core.Initiate(name)
	p, _ := s.core.Peer(name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		s.mu.Lock()
		s.core.End(sess, err == nil)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, s.sync.SessionTimeout.D())
	defer cancel()
	c, err := s.trans.Dial(ctx, p.Addr, name, chanSync)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	s.counter.sessionsOut.Add(1)
	return s.converse(c, sess, hello)
}

// serveSync answers a session a peer started.
func (s *Site) serveSync(c *transport.Conn) {
	defer c.Close()
	key, ok := s.keyOf(c.Peer)
	if !ok {
		key, ok = s.observerKey(c.Peer)
	}
	if !ok {
		return
	}
	s.mu.Lock()
	sess, err := s.core.Respond(c.Peer, key)
	s.mu.Unlock()
	if err != nil {
		s.counter.refusedFrames.Add(1)
		s.log.Warn("too many sessions from peer; refusing one", "peer", c.Peer)
		return
	}
	_ = c.SetDeadline(time.Now().Add(s.sync.SessionTimeout.D()))
	s.counter.sessionsIn.Add(1)
	err = s.converse(c, sess, nil)
	s.mu.Lock()
	s.core.End(sess, err == nil)
	s.mu.Unlock()
	if err != nil && s.ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("sync session failed", "peer", c.Peer, "err", err)
	}
}

// converse exchanges session messages until the session is done. first, if not nil, is
// sent before anything is read. Each reply goes out after what its step stored is
// persisted.
func (s *Site) converse(c *transport.Conn, sess *core.Session, first []byte) error {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	send := func(b []byte) error {
		if err := peering.WriteFrame(w, b); err != nil {
			return err
		}
		return w.Flush()
	}
	if first != nil {
		if err := send(first); err != nil {
			return err
		}
	}
	defer func() {
		st := sess.Stats()
		s.counter.syncBytes.Add(uint64(st.Bytes()))
		s.counter.syncPayload.Add(uint64(st.PayloadRecv + st.PayloadSent))
		s.counter.syncMessages.Add(uint64(st.Messages))
	}()
	for !sess.Done() {
		in, err := peering.ReadFrame(r, maxSyncFrame)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("peer closed the session early")
			}
			return err
		}
		var reply []byte
		if raws, err := crdt.SyncChanges(in); err == nil {
			s.verify.check(s.ctx, raws)
		}
		rd := s.step(func(cr *core.Core) { reply, err = cr.Step(sess, in, time.Now()) })
		s.counter.rejected.Add(uint64(len(rd.Persist.Rejected)))
		s.do(rd)
		if errors.Is(err, core.ErrOverBudget) {
			s.overBudget(c.Peer)
		}
		if err != nil {
			return err
		}
		if reply != nil {
			if err := send(reply); err != nil {
				return err
			}
		}
	}
	return nil
}
