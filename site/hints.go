package site

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"atoll/peering"
	"atoll/site/core"
)

// Hints (docs/adr/0015-hints-on-push-streams.md). A site tells each live peer its change
// count and heads (peering.Meta) in a hint frame on its push stream to that peer, at most
// every Tuning.HintInterval and always the latest, instead of in memberlist metadata that
// memberlist gossips to every site at each change. It owes one on every new stream, and
// when the core says so (site/core hints.go): after the site's Raft log changed its
// heads, and to a peer whose own hint showed it behind; and every Tuning.HintRefresh if
// its heads changed meanwhile (refreshLoop), which bounds how stale a peer's picture of
// it gets.
//
// Upgrades. The acceptor of a push stream writes peering.PushVersionHints first; the
// dialer sends hints only once it has read it. An acceptor of an earlier release writes
// nothing, and its dialer sends envelopes only. A dialer of an earlier release never reads
// the byte, which stays in its receive buffer: harmless.
//
// Memberlist metadata only while needed. A site publishes empty metadata, which memberlist
// then has no update of to gossip, unless some live memberlist node needs it:
//   - an observer (it pushes nothing and is pushed nothing: it learns the sites' heads
//     from their metadata), or
//   - a site whose push stream has not answered with PushVersionHints: an earlier release,
//     or a site not dialed yet since this site started (what a stream answered is kept
//     by name across partitions and restarts of the peer, until its next stream answers).
// So a site of this release publishes its Meta in metadata at start, stops once every live
// peer answered, and starts again as soon as an observer or an older site joins.
// Observers publish empty metadata: nobody reads theirs.

// Push stream versions of a peer, as its acceptor answered (peer.version).
const (
	pushUnknown int32 = iota // no stream answered yet
	pushOld                  // the acceptor wrote no version byte within PushVersionWait
	pushHints                // the acceptor reads hint frames
)

// setVersion records what the acceptor of a push stream to p answered. It is kept by
// name (versions) past the peer's going down: a peer that comes back after a partition
// or a restart is taken to be of the same release until its new stream answers, so that
// metadata does not come back on for every site at every such return. pushUnknown (the
// stream broke first) changes nothing.
func (s *Site) setVersion(p *peer, v int32) {
	if v == pushUnknown {
		return
	}
	s.mu.Lock()
	s.versions[p.name] = v
	s.mu.Unlock()
	p.version.Store(v)
}

// readVersion reads the version byte the acceptor of a push stream writes first, and
// sends what it means: pushHints, pushOld when none came within PushVersionWait, or
// pushUnknown when the stream broke first.
func (s *Site) readVersion(c net.Conn) <-chan int32 {
	out := make(chan int32, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.Tuning.PushVersionWait))
		var b [1]byte
		_, err := io.ReadFull(c, b[:])
		switch {
		case err == nil && b[0] >= peering.PushVersionHints:
			out <- pushHints
		case err == nil || errors.Is(err, os.ErrDeadlineExceeded):
			out <- pushOld
		default:
			out <- pushUnknown
		}
	}()
	return out
}

// owe tells a peer's push loop that a hint is owed. Called with mu held (or before the
// loop starts); observers send no hints.
func (s *Site) owe(p *peer) {
	if s.cfg.Observer {
		return
	}
	select {
	case p.hint <- struct{}{}:
	default:
	}
}

// hinted owes a hint to every live peer (all) or to the named ones (site/core hints.go
// says when). Called with mu held.
func (s *Site) hinted(all bool, to []string) {
	if all {
		for _, p := range s.links {
			s.owe(p)
		}
		return
	}
	for _, name := range to {
		if p := s.links[name]; p != nil {
			s.owe(p)
		}
	}
}

// hint returns a hint frame of this site's current change count and heads.
func (s *Site) hint() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return peering.EncodeHint(s.currentMeta())
}

// currentMeta is this site's Meta now. Called with mu held.
func (s *Site) currentMeta() peering.Meta {
	heads := s.rep.Heads()
	hs := make([][32]byte, len(heads))
	for i, h := range heads {
		hs[i] = h
	}
	return peering.NewMeta(s.rep.Len(), hs)
}

// splitHints separates a push stream's hint frames from its envelopes, each in order.
func splitHints(frames [][]byte) (envs, hints [][]byte) {
	for _, b := range frames {
		if peering.IsHint(b) {
			hints = append(hints, b)
		} else {
			envs = append(envs, b)
		}
	}
	if len(hints) == 0 {
		return frames, nil
	}
	return envs, hints
}

// receiveHints takes hint frames from peer (already charged to its budget) and reports
// whether the peer may go on. A frame that does not decode is counted, logged and struck
// against the peer; the stream is dropped only once its budget refuses it.
func (s *Site) receiveHints(peer string, hints [][]byte) bool {
	for _, b := range hints {
		var ok bool
		var err error
		rd := s.step(func(c *core.Core) { ok, err = c.Hint(peer, b, time.Now()) })
		s.do(rd)
		if err != nil {
			s.counter.hintErrors.Add(1)
			s.log.Debug("hint frame refused", "peer", peer, "bytes", len(b), "err", err)
		} else {
			s.counter.hintsIn.Add(1)
		}
		if !ok {
			return false
		}
	}
	return true
}

// refreshLoop owes every live peer a hint every HintRefresh if this site's heads changed
// meanwhile.
func (s *Site) refreshLoop(ctx context.Context) {
	s.every(ctx, s.cfg.Tuning.HintRefresh, nil, func() {
		if !s.stale.Swap(false) {
			return
		}
		s.mu.Lock()
		s.hinted(true, nil)
		s.mu.Unlock()
	})
}

// metaNeeded reports whether some live memberlist node needs this site's metadata: an
// observer, or a site whose push stream has not answered that it reads hints.
func (s *Site) metaNeeded() bool {
	if s.cfg.Observer || s.ml == nil {
		return false
	}
	for _, n := range s.ml.Members() {
		switch {
		case n.Name == s.cfg.Name:
		case strings.HasPrefix(n.Name, observerNode("")):
			return true
		default:
			if p := s.peer(n.Name); p != nil && p.version.Load() != pushHints {
				return true
			}
		}
	}
	return false
}
