package peering

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Config tunes anti-entropy. Zero fields take DefaultConfig's values (WithDefaults).
type Config struct {
	// Interval is the period of the safety-net session with one random live peer, whatever
	// the peers advertise. Idle cost per site is one heads exchange (a few hundred bytes plus
	// a TLS handshake) per Interval.
	Interval time.Duration
	// Grace is how long a head advertised by a peer may stay unknown here before a session
	// is started with that peer. Pushes normally close the gap well within it.
	Grace time.Duration
	// MinGap is the least time between two sessions started with the same peer.
	MinGap time.Duration
	// MaxSessions bounds this site's outgoing sessions at once.
	MaxSessions int
}

// DefaultConfig suits sites a WAN apart.
func DefaultConfig() Config {
	return Config{Interval: 30 * time.Second, Grace: 500 * time.Millisecond, MinGap: time.Second, MaxSessions: 2}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Grace == 0 {
		c.Grace = d.Grace
	}
	if c.MinGap == 0 {
		c.MinGap = d.MinGap
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = d.MaxSessions
	}
	return c
}

type peerState struct {
	meta         Meta
	haveMeta     bool
	unknownSince time.Time // when an advertised head was first seen missing here; zero if none
	lastStart    time.Time
	running      bool
	wanted       bool
	retry        bool // the running session was wanted: retry it if it fails
	gone         bool // left while its session ran; forgotten when the session ends
	// metaSeq counts the peer's advertisements; startSeq is metaSeq when the running
	// session started, and spentSeq when the last session that succeeded did. A session
	// that succeeded brought everything the peer had advertised before it began, so that
	// advertisement no longer says this site lacks anything: without this, a stale one
	// (a peer hints rarely) listing only some heads (More) with another change count
	// would start a session every MinGap for ever.
	metaSeq, startSeq, spentSeq uint64
}

// AntiEntropy decides with which peers to run sync sessions and when.
type AntiEntropy struct {
	cfg        Config
	rng        *rand.Rand
	peers      map[string]*peerState
	running    int
	lastRandom time.Time
}

// NewAntiEntropy returns a scheduler with no peers. rng drives the random choices.
func NewAntiEntropy(cfg Config, rng *rand.Rand) *AntiEntropy {
	return &AntiEntropy{cfg: cfg.WithDefaults(), rng: rng, peers: map[string]*peerState{}}
}

// Join records a live peer.
func (a *AntiEntropy) Join(peer string) {
	if p := a.peers[peer]; p == nil {
		a.peers[peer] = &peerState{}
	} else {
		p.gone = false
	}
}

// Leave forgets a peer that is no longer live. A session still running with it ends
// through Done as usual.
func (a *AntiEntropy) Leave(peer string) {
	if p := a.peers[peer]; p != nil && p.running {
		*p = peerState{running: true, lastStart: p.lastStart, gone: true}
		return
	}
	delete(a.peers, peer)
}

// Advertised records a peer's latest metadata.
func (a *AntiEntropy) Advertised(peer string, m Meta) {
	a.Join(peer)
	p := a.peers[peer]
	p.meta, p.haveMeta = m, true
	p.metaSeq++
}

// Want asks for a session with peer as soon as MinGap allows: a change it pushed waits for
// dependencies, or changes for it were dropped from a full queue.
func (a *AntiEntropy) Want(peer string) {
	a.Join(peer)
	a.peers[peer].wanted = true
}

// Running reports how many sessions are under way.
func (a *AntiEntropy) Running() int { return a.running }

// Next returns the peers to start a session with now and marks them running. has reports
// whether this site holds a change; changes is how many it holds.
func (a *AntiEntropy) Next(now time.Time, has func([32]byte) bool, changes int) []string {
	names := make([]string, 0, len(a.peers))
	for name := range a.peers {
		names = append(names, name)
	}
	slices.Sort(names)
	var due []string
	for _, name := range names {
		p := a.peers[name]
		if p.running || p.gone {
			continue
		}
		if a.lacks(p, has, changes) {
			if p.unknownSince.IsZero() {
				p.unknownSince = now
			}
		} else {
			p.unknownSince = time.Time{}
		}
		ready := now.Sub(p.lastStart) >= a.cfg.MinGap
		stale := !p.unknownSince.IsZero() && now.Sub(p.unknownSince) >= a.cfg.Grace
		if ready && (p.wanted || stale) {
			due = append(due, name)
		}
	}
	a.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	if free := a.cfg.MaxSessions - a.running; len(due) > free {
		due = due[:max(free, 0)]
	}
	if len(due) == 0 && a.running < a.cfg.MaxSessions && now.Sub(a.lastRandom) >= a.cfg.Interval {
		var idle []string
		for _, name := range names {
			if p := a.peers[name]; !p.running && !p.gone && now.Sub(p.lastStart) >= a.cfg.MinGap {
				idle = append(idle, name)
			}
		}
		if len(idle) > 0 {
			due = append(due, idle[a.rng.IntN(len(idle))])
			a.lastRandom = now
		}
	}
	for _, name := range due {
		p := a.peers[name]
		p.running, p.retry, p.wanted, p.lastStart, p.startSeq = true, p.wanted, false, now, p.metaSeq
		a.running++
	}
	return due
}

// lacks reports whether the peer advertises something this site does not hold.
func (a *AntiEntropy) lacks(p *peerState, has func([32]byte) bool, changes int) bool {
	if !p.haveMeta || p.metaSeq == p.spentSeq {
		return false
	}
	if p.meta.Changes > uint64(changes) || p.meta.More && p.meta.Changes != uint64(changes) {
		return true
	}
	for _, h := range p.meta.Heads {
		if !has(h) {
			return true
		}
	}
	return false
}

// Done records the end of a session started by Next. A failed session is retried after
// MinGap if it was wanted (Want) or the peer still advertises something missing.
func (a *AntiEntropy) Done(peer string, ok bool) {
	p := a.peers[peer]
	if p == nil || !p.running {
		panic("peering: Done for a session Next did not start: " + peer)
	}
	p.running = false
	a.running--
	if p.gone {
		delete(a.peers, peer)
		return
	}
	if ok {
		p.unknownSince, p.spentSeq = time.Time{}, p.startSeq
	} else if p.retry {
		p.wanted = true
	}
}

// PeerSync is what anti-entropy knows of a peer's progress.
type PeerSync struct {
	Meta     Meta // the peer's latest advertisement
	HaveMeta bool
	// Behind is when a head the peer advertised was first seen missing here; zero if
	// this site holds every head the peer advertised.
	Behind time.Time
}

// Peer returns what is known of a live peer's progress.
func (a *AntiEntropy) Peer(peer string) (PeerSync, bool) {
	p := a.peers[peer]
	if p == nil || p.gone {
		return PeerSync{}, false
	}
	return PeerSync{Meta: p.meta, HaveMeta: p.haveMeta, Behind: p.unknownSince}, true
}
