package site

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/transport"
)

// Stream channels of the site protocol (see the package doc).
const (
	chanPush byte = 'P'
	chanSync byte = 'S'
)

// peer is a live site this one pushes to: one goroutine, one queue, one stream.
type peer struct {
	name  string
	key   crdt.PubKey
	addr  string    // guarded by Site.peersMu: a restarted site may come back elsewhere (peerAddr)
	since time.Time // when memberlist reported it alive
	queue chan crdt.Hash
	soft  chan []byte // soft records this site wrote
	// softWant asks for a soft session: the peer is new, or a record for it was dropped.
	softWant atomic.Bool
	stop     chan struct{}
}

// addPeer starts pushing to a site memberlist reports alive.
func (s *Site) addPeer(n *memberlist.Node) {
	key, ok := s.keyOf(n.Name)
	if !ok || n.Name == s.cfg.Name {
		return
	}
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	s.peersMu.Lock()
	s.known[n.Name] = addr
	if p := s.peers[n.Name]; p != nil {
		p.addr = addr // a restarted site may come back elsewhere
		s.peersMu.Unlock()
		return
	}
	p := &peer{name: n.Name, key: key, addr: addr, since: time.Now(), queue: make(chan crdt.Hash, s.sync.QueueLength), soft: make(chan []byte, s.cfg.Tuning.SoftQueue), stop: make(chan struct{})}
	p.softWant.Store(true)
	s.peers[n.Name] = p
	s.peersMu.Unlock()
	s.wg.Add(2)
	go s.pushLoop(p)
	go s.softPushLoop(p)
	s.mu.Lock()
	s.ae.Join(n.Name)
	s.mu.Unlock()
	s.log.Info("peer alive", "peer", n.Name, "addr", addr)
	s.events.add("site", n.Name, n.Name+" is live at "+addr)
	s.wakeReconcile()
}

// removePeer stops pushing to a site memberlist reports dead or gone.
func (s *Site) removePeer(name string) {
	s.peersMu.Lock()
	p := s.peers[name]
	delete(s.peers, name)
	if p != nil {
		s.gone[name] = time.Now()
	}
	s.peersMu.Unlock()
	if p == nil {
		return
	}
	s.wakeReconcile()
	close(p.stop)
	s.mu.Lock()
	s.ae.Leave(name)
	s.mu.Unlock()
	s.log.Info("peer gone", "peer", name)
	s.events.add("site", name, name+" is lost")
}

// peerAddr returns where a peer is reached now.
func (s *Site) peerAddr(p *peer) string {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	return p.addr
}

func (s *Site) stopPeers() {
	s.peersMu.Lock()
	names := make([]string, 0, len(s.peers))
	for name := range s.peers {
		names = append(names, name)
	}
	s.peersMu.Unlock()
	for _, name := range names {
		s.removePeer(name)
	}
}

// live returns the names of the live peers, sorted.
func (s *Site) live() []string {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	out := make([]string, 0, len(s.peers))
	for name := range s.peers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Site) peer(name string) *peer {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	return s.peers[name]
}

// push queues new changes for peers: all live peers for this site's own writes, Fanout
// random ones for changes relayed from from.
func (s *Site) push(envs []*crdt.Envelope, from string) {
	if len(envs) == 0 || s.cfg.Observer {
		return
	}
	var to []string
	if from == "" {
		to = s.live()
	} else {
		s.mu.Lock()
		to = peering.Pick(s.rng, s.live(), from, s.sync.Fanout)
		s.mu.Unlock()
	}
	for _, name := range to {
		p := s.peer(name)
		if p == nil {
			continue
		}
		for _, env := range envs {
			select {
			case p.queue <- env.ID:
				if from != "" {
					s.counter.forwarded.Add(1)
				}
			default: // a slow or cut-off peer: anti-entropy repairs it later
				s.counter.dropped.Add(1)
				s.want(name)
			}
		}
	}
}

// want asks for an anti-entropy session with a peer soon.
func (s *Site) want(name string) {
	s.mu.Lock()
	s.ae.Want(name)
	s.mu.Unlock()
	s.kick()
}

func (s *Site) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pushLoop writes a peer's queue to one long-lived push stream, redialing after errors.
func (s *Site) pushLoop(p *peer) {
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
		var id crdt.Hash
		select {
		case <-p.stop:
			return
		case id = <-p.queue:
		}
		if conn == nil {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Tuning.DialTimeout)
			c, err := s.trans.Dial(ctx, s.peerAddr(p), p.name, chanPush)
			cancel()
			if err != nil {
				s.log.Debug("push dial", "peer", p.name, "err", err)
				s.want(p.name)
				select {
				case <-p.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, s.cfg.Tuning.PushBackoffMax)
				continue // the change is dropped; the session repairs it
			}
			backoff = s.cfg.Tuning.PushBackoff
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
		}
		if err := s.writePush(p, conn, w, id); err != nil {
			s.log.Debug("push write", "peer", p.name, "err", err)
			conn.Close()
			conn = nil
			s.want(p.name)
		}
	}
}

// writePush writes id and whatever else is queued, then flushes.
func (s *Site) writePush(p *peer, conn net.Conn, w *bufio.Writer, id crdt.Hash) error {
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Tuning.WriteTimeout))
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
		return w.Flush()
	}
}

// servePush reads a peer's push stream. Frames that arrived together are applied and
// written to the data file together (one fsync for a burst).
func (s *Site) servePush(c *transport.Conn) {
	defer c.Close()
	if _, ok := s.keyOf(c.Peer); !ok {
		return // observers only read, through sessions they start
	}
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

// receivePush applies frames from peer and reports whether the peer may go on.
func (s *Site) receivePush(peer string, frames [][]byte) bool {
	var all crdt.Result
	s.mu.Lock()
	for _, b := range frames {
		res := s.rep.Receive(b)
		all.Stored = append(all.Stored, res.Stored...)
		all.Rejected = append(all.Rejected, res.Rejected...)
		all.Buffered += res.Buffered
		all.Unbuffered += res.Unbuffered
	}
	s.persist(all)
	s.mu.Unlock()
	s.counter.pushedIn.Add(uint64(len(frames)))
	s.counter.unbuffered.Add(uint64(all.Unbuffered))
	ok := s.account(peer, all)
	if all.Buffered > 0 || all.Unbuffered > 0 {
		s.want(peer) // its dependencies (a charter change admitting its author) come by a session
	}
	s.push(all.Stored, peer)
	return ok
}

// admit charges a frame to the peer's budget; false means drop the peer's stream.
func (s *Site) admit(peer string, n int) bool {
	s.mu.Lock()
	ok := s.budget.Allow(peer, n, time.Now())
	s.mu.Unlock()
	if !ok {
		s.counter.refusedFrames.Add(1)
		s.log.Warn("peer over its budget or refused; dropping its traffic", "peer", peer)
	}
	return ok
}

// account strikes a peer for every invalid change it sent, and reports whether the peer
// is still allowed. Once refused, its further invalid changes are counted, not logged.
func (s *Site) account(peer string, res crdt.Result) bool {
	refused := false
	for _, rej := range res.Rejected {
		s.counter.rejected.Add(1)
		s.mu.Lock()
		refused = s.budget.Strike(peer, time.Now())
		s.mu.Unlock()
		if !refused {
			s.log.Warn("invalid change from peer", "peer", peer, "change", rej.ID.String(), "err", rej.Err)
			s.events.add("change", peer, fmt.Sprintf("rejected change %s from %s: %v", rej.ID, peer, rej.Err))
		}
	}
	return !refused
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

func (e liveness) NotifyJoin(n *memberlist.Node)  { e.s.addPeer(n); e.advertised(n) }
func (e liveness) NotifyLeave(n *memberlist.Node) { e.s.removePeer(n.Name) }
func (e liveness) NotifyUpdate(n *memberlist.Node) {
	e.s.addPeer(n)
	e.advertised(n)
}

func (e liveness) advertised(n *memberlist.Node) {
	if n.Name == e.s.cfg.Name || e.s.peer(n.Name) == nil {
		return
	}
	m, err := peering.DecodeMeta(n.Meta)
	if err != nil {
		e.s.log.Debug("peer metadata", "peer", n.Name, "err", err)
		return
	}
	e.s.mu.Lock()
	e.s.ae.Advertised(n.Name, m)
	e.s.mu.Unlock()
	e.s.kick()
}
