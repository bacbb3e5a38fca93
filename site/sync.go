package site

import (
	"bufio"
	"context"
	"errors"
	"io"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/transport"
)

// maxSyncFrame bounds one frame of a session.
const maxSyncFrame = crdt.MaxSyncMessageBytes

// syncLoop starts the anti-entropy sessions the scheduler asks for.
func (s *Site) syncLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tuning.SyncTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		s.mu.Lock()
		due := s.ae.Next(time.Now(), func(h [32]byte) bool { return s.rep.Has(h) }, s.rep.Len())
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
				s.mu.Lock()
				s.ae.Done(name, err == nil)
				s.mu.Unlock()
			}()
		}
	}
}

// initiate runs one sync session with a peer.
func (s *Site) initiate(ctx context.Context, name string) error {
	p := s.peer(name)
	if p == nil {
		return errors.New("peer not live")
	}
	ctx, cancel := context.WithTimeout(ctx, s.sync.SessionTimeout.D())
	defer cancel()
	c, err := s.trans.Dial(ctx, s.peerAddr(p), name, chanSync)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	s.counter.sessionsOut.Add(1)
	s.mu.Lock()
	sess, hello := s.rep.Initiate(p.key, s.rng.Uint64())
	s.mu.Unlock()
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
	if !s.enterSession(c.Peer) {
		s.counter.refusedFrames.Add(1)
		s.log.Warn("too many sessions from peer; refusing one", "peer", c.Peer)
		return
	}
	defer s.leaveSession(c.Peer)
	_ = c.SetDeadline(time.Now().Add(s.sync.SessionTimeout.D()))
	s.counter.sessionsIn.Add(1)
	s.mu.Lock()
	sess := s.rep.Respond(key)
	s.mu.Unlock()
	if err := s.converse(c, sess, nil); err != nil && s.ctx.Err() == nil {
		s.counter.sessionFails.Add(1)
		s.log.Debug("sync session failed", "peer", c.Peer, "err", err)
	}
}

// converse exchanges session messages until the session is done. first, if not nil, is
// sent before anything is read.
func (s *Site) converse(c *transport.Conn, sess *crdt.Session, first []byte) error {
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
		if !s.admit(c.Peer, len(in)) {
			return errors.New("peer over budget")
		}
		s.mu.Lock()
		reply, res, err := sess.Step(in)
		s.persist(res)
		s.mu.Unlock()
		allowed := s.account(c.Peer, res)
		s.push(res.Stored, c.Peer)
		if err != nil {
			return err
		}
		if !allowed {
			return errors.New("peer refused after invalid changes")
		}
		if reply != nil {
			if err := send(reply); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Site) enterSession(peer string) bool {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	total := 0
	for _, n := range s.inbound {
		total += n
	}
	if s.inbound[peer] >= s.cfg.Tuning.MaxSessionsPerPeer || total >= s.cfg.Tuning.MaxSessionsIn {
		return false
	}
	s.inbound[peer]++
	return true
}

func (s *Site) leaveSession(peer string) {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	if s.inbound[peer]--; s.inbound[peer] == 0 {
		delete(s.inbound, peer)
	}
}
