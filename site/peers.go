package site

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/transport"
)

// Stream channels of the site protocol (see the package doc).
const (
	chanPush byte = 'P'
	chanSync byte = 'S'
)

// peer is a live site this one pushes to: one goroutine, one queue, one stream. The core
// keeps what is known of it (core.Peer); this is the shell's half: its streams.
type peer struct {
	name  string
	key   crdt.PubKey
	addr  string // guarded by Site.mu: a restarted site may come back elsewhere (peerAddr)
	queue chan crdt.Hash
	soft  chan []byte   // soft records this site wrote
	hint  chan struct{} // this site's heads changed: a hint is owed (hints.go)
	stop  chan struct{}
	// version is what the acceptor of the last push stream to the peer answered
	// (pushUnknown until one answered or PushVersionWait passed; hints.go).
	version atomic.Int32
}

// addPeer starts pushing to a site memberlist reports alive.
func (s *Site) addPeer(n *memberlist.Node) {
	key, ok := s.keyOf(n.Name)
	if !ok || n.Name == s.cfg.Name {
		return
	}
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	s.mu.Lock()
	added := s.core.PeerUp(n.Name, key, addr, time.Now())
	p := s.links[n.Name]
	if p != nil {
		p.addr = addr
	}
	if added {
		p = &peer{name: n.Name, key: key, addr: addr, queue: make(chan crdt.Hash, s.sync.QueueLength), soft: make(chan []byte, s.cfg.Tuning.SoftQueue),
			hint: make(chan struct{}, 1), stop: make(chan struct{})}
		p.version.Store(s.versions[n.Name])
		s.links[n.Name] = p
		s.owe(p) // the peer learns this site's heads from a hint, not from memberlist
	}
	rd := s.core.Ready()
	s.mu.Unlock()
	if added {
		s.wg.Add(2)
		go s.pushLoop(p)
		go s.softPushLoop(p)
	}
	s.do(rd)
}

// removePeer stops pushing to a site memberlist reports dead or gone.
func (s *Site) removePeer(name string) {
	s.mu.Lock()
	s.core.PeerDown(name, time.Now())
	p := s.links[name]
	delete(s.links, name)
	rd := s.core.Ready()
	s.mu.Unlock()
	if p != nil {
		close(p.stop)
	}
	s.do(rd)
}

// peerAddr returns where a peer is reached now.
func (s *Site) peerAddr(p *peer) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.addr
}

func (s *Site) stopPeers() {
	for _, name := range s.live() {
		s.removePeer(name)
	}
}

// live returns the names of the live peers, sorted.
func (s *Site) live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Live()
}

func (s *Site) peer(name string) *peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[name]
}

// step gives the core one input under mu, persists what the input stored, and returns
// the Ready to carry out (do) once mu is released.
func (s *Site) step(input func(c *core.Core)) core.Ready {
	s.mu.Lock()
	defer s.mu.Unlock()
	input(s.core)
	rd := s.core.Ready()
	s.persist(rd)
	return rd
}

// do carries out a Ready whose Persist is durable: queues its pushes, records its
// events, and wakes the sync loop and the reconciler if it asks to.
func (s *Site) do(rd core.Ready) {
	s.send(rd.Push)
	s.sendSoft(rd.SoftPush)
	for _, e := range rd.Events {
		if e.Warn {
			s.log.Warn(e.Log, e.Attrs...)
		} else {
			s.log.Info(e.Log, e.Attrs...)
		}
		if e.Kind != "" {
			s.events.add(e.Kind, e.Subject, e.Text)
		}
	}
	if rd.Wake {
		s.kick()
	}
	if rd.Liveness {
		s.wakeReconcile()
	}
}

// send queues changes for peers' push streams. A slow or cut-off peer's full queue drops
// them: anti-entropy repairs it later.
func (s *Site) send(pushes []core.Push) {
	if len(pushes) == 0 || s.cfg.Observer {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := false
	for _, ps := range pushes {
		for _, name := range ps.To {
			p := s.links[name]
			if p == nil {
				continue
			}
			for _, id := range ps.IDs {
				select {
				case p.queue <- id:
					if ps.Relayed {
						s.counter.forwarded.Add(1)
					}
				default:
					s.counter.dropped.Add(1)
					s.core.Want(name)
					dropped = true
				}
			}
		}
	}
	if dropped {
		s.kick()
	}
}

// want asks for an anti-entropy session with a peer soon.
func (s *Site) want(name string) {
	s.mu.Lock()
	s.core.Want(name)
	s.mu.Unlock()
	s.kick()
}

func (s *Site) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pushLoop writes a peer's queue, and hints of this site's heads (hints.go), to one
// long-lived push stream, redialing after errors. A stream is dialed for a change or an
// owed hint; a new stream owes the peer a hint.
func (s *Site) pushLoop(p *peer) {
	defer s.wg.Done()
	var conn net.Conn
	var w *bufio.Writer
	var version <-chan int32 // what conn's acceptor answered, once; nil when read
	hints := false           // conn's acceptor reads hint frames
	pace := peering.Pacer{Interval: s.cfg.Tuning.HintInterval}
	timer := time.NewTimer(0)
	<-timer.C
	var paced <-chan time.Time // set while an owed hint waits for the pacer
	drop := func(err error) {
		s.log.Debug("push write", "peer", p.name, "err", err)
		conn.Close()
		conn, version, hints = nil, nil, false
		s.want(p.name)
	}
	defer func() {
		timer.Stop()
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := s.cfg.Tuning.PushBackoff
	for {
		var id crdt.Hash
		queued := false
		select {
		case <-p.stop:
			return
		case id = <-p.queue:
			queued = true
		case <-p.hint:
			pace.Want()
		case <-paced:
			paced = nil
		case v := <-version:
			version, hints = nil, v == pushHints
			s.setVersion(p, v)
		}
		if conn == nil && (queued || pace.Owed()) {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Tuning.DialTimeout)
			c, err := s.trans.Dial(ctx, s.peerAddr(p), p.name, chanPush)
			cancel()
			if err != nil {
				s.log.Debug("push dial", "peer", p.name, "err", err)
				if queued {
					s.want(p.name)
				}
				select {
				case <-p.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, s.cfg.Tuning.PushBackoffMax)
				if pace.Owed() { // dial again for it: nothing else may come to wake this loop
					timer.Reset(0)
					paced = timer.C
				}
				continue // the change is dropped; the session repairs it
			}
			backoff = s.cfg.Tuning.PushBackoff
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
			version = s.readVersion(c)
			pace.Want() // the peer may have missed hints while there was no stream
		}
		if conn == nil {
			continue
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Tuning.WriteTimeout))
		if queued {
			if err := s.writePush(p, w, id); err != nil {
				drop(err)
				continue
			}
		}
		if hints && paced == nil {
			due, wait := pace.Due(time.Now())
			switch {
			case due:
				if err := peering.WriteFrame(w, s.hint()); err != nil {
					drop(err)
					continue
				}
				pace.Sent(time.Now())
				s.counter.hintsOut.Add(1)
			case wait > 0:
				timer.Reset(wait)
				paced = timer.C
			}
		}
		if err := w.Flush(); err != nil {
			drop(err)
		}
	}
}

// writePush writes id and whatever else is queued; the caller flushes.
func (s *Site) writePush(p *peer, w *bufio.Writer, id crdt.Hash) error {
	for {
		s.mu.Lock()
		b, ok := s.rep.EnvelopeFor(id, p.key)
		s.mu.Unlock()
		if ok {
			if err := peering.WriteFrame(w, b); err != nil {
				return err
			}
			s.counter.pushedOut.Add(1)
		}
		select {
		case id = <-p.queue:
			continue
		default:
		}
		return nil
	}
}

// servePush reads a peer's push stream. Frames that arrived together are applied and
// written to the data file together (one fsync for a burst).
func (s *Site) servePush(c *transport.Conn) {
	defer c.Close()
	if _, ok := s.keyOf(c.Peer); !ok {
		return // observers only read, through sessions they start
	}
	// This side reads hint frames. A dialer of an earlier release never reads the byte;
	// it sits in the stream's receive buffer until the stream closes.
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.Tuning.WriteTimeout))
	if _, err := c.Write([]byte{peering.PushVersionHints}); err != nil {
		s.log.Debug("push stream version", "peer", c.Peer, "err", err)
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		frames, err, ok := s.readBurst(r, c.Peer, crdt.MaxEnvelopeBytes)
		if !ok {
			return
		}
		if len(frames) > 0 && !s.receivePush(c.Peer, frames) {
			s.counter.refusedFrames.Add(1)
			s.log.Warn("peer refused after invalid changes; closing its push stream", "peer", c.Peer)
			return
		}
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Debug("push stream ended", "peer", c.Peer, "err", err)
			}
			return
		}
	}
}

// readBurst reads the frames of a push stream that arrived together: at least one (unless
// the stream ends: err), at most Tuning.PushBatch, each at most max bytes and within the
// peer's budget (ok false: the peer is over it).
func (s *Site) readBurst(r *bufio.Reader, peer string, max int) (frames [][]byte, err error, ok bool) {
	for len(frames) == 0 || r.Buffered() > 0 && len(frames) < s.cfg.Tuning.PushBatch {
		var b []byte
		if b, err = peering.ReadFrame(r, max); err != nil {
			break
		}
		if !s.admit(peer, len(b)) {
			return nil, nil, false
		}
		frames = append(frames, b)
	}
	return frames, err, true
}

// receivePush applies frames from peer, envelopes then hints, and reports whether the
// peer may go on.
func (s *Site) receivePush(peer string, frames [][]byte) bool {
	envs, hints := splitHints(frames)
	ok := len(envs) == 0 || s.receiveEnvelopes(peer, envs)
	return ok && s.receiveHints(peer, hints)
}

// receiveEnvelopes applies changes from peer and reports whether the peer may go on.
func (s *Site) receiveEnvelopes(peer string, frames [][]byte) bool {
	var res crdt.Result
	var ok bool
	s.verify.check(s.ctx, frames)
	rd := s.step(func(c *core.Core) { res, ok = c.Receive(peer, frames, time.Now()) })
	s.counter.pushedIn.Add(uint64(len(frames)))
	s.counter.unbuffered.Add(uint64(res.Unbuffered))
	s.counter.rejected.Add(uint64(len(res.Rejected)))
	s.do(rd)
	return ok
}

// admit charges a frame to the peer's budget; false means drop the peer's stream.
func (s *Site) admit(peer string, n int) bool {
	s.mu.Lock()
	ok := s.core.Admit(peer, n, time.Now())
	s.mu.Unlock()
	if !ok {
		s.overBudget(peer)
	}
	return ok
}

func (s *Site) overBudget(peer string) {
	s.counter.refusedFrames.Add(1)
	s.log.Warn("peer over its budget or refused; dropping its traffic", "peer", peer)
}

// delegate gives memberlist the site's metadata; the rest of its hooks are unused,
// because state never travels through memberlist.
type delegate struct{ s *Site }

func (d delegate) NodeMeta(limit int) []byte {
	b := *d.s.meta.Load()
	if len(b) > limit {
		return b[:0]
	}
	return b
}
func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

// liveness feeds memberlist's view of liveness and metadata into the site.
type liveness struct{ s *Site }

func (e liveness) NotifyJoin(n *memberlist.Node) { e.s.addPeer(n); e.advertised(n) }
func (e liveness) NotifyLeave(n *memberlist.Node) {
	if n.Name != e.s.nodeName() {
		e.s.counter.peersLost.Add(1)
	}
	e.s.removePeer(n.Name)
}
func (e liveness) NotifyUpdate(n *memberlist.Node) {
	e.s.addPeer(n)
	e.advertised(n)
}

func (e liveness) advertised(n *memberlist.Node) {
	if n.Name == e.s.cfg.Name || e.s.peer(n.Name) == nil {
		return
	}
	if len(n.Meta) == 0 {
		return // a site of this release: its heads come in hints (hints.go)
	}
	m, err := peering.DecodeMeta(n.Meta)
	if err != nil {
		e.s.log.Debug("peer metadata", "peer", n.Name, "err", err)
		return
	}
	e.s.do(e.s.step(func(c *core.Core) { c.Advertised(n.Name, m) }))
}
