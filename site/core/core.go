package core

import (
	"math/rand/v2"
	"time"

	"atoll/crdt"
	"atoll/peering"
)

// Config sets up a core. Zero values of the bounds take the defaults named below.
type Config struct {
	Self     string        // this site's name
	Replica  *crdt.Replica // the federation state, restored from the data file
	Rand     *rand.Rand    // every random choice the core makes
	Observer bool          // an observer reads through sessions it starts and pushes nothing
	Fanout   int           // peers a relay forwards a new change to
	Sync     peering.Config
	Budget   peering.BudgetConfig
	// Inbound sync sessions at once: per peer and in all. A peer that opens more is
	// refused, so it cannot tie up the replica with sessions.
	MaxSessionsPerPeer int // default 2
	MaxSessionsIn      int // default 16
	// SoftBuckets is the least time between two soft sessions with a peer that compare
	// writers bucket by bucket (a pass over their records, which a peer could otherwise
	// ask for at every session).
	SoftBuckets time.Duration
	// Replicas: this is one of several replicas of the site under Raft; Marked are the
	// changes its data file holds marked as not yet in the log (replicas.go).
	Replicas bool
	Marked   []crdt.Hash
}

// Default bounds of inbound sessions.
const (
	DefaultMaxSessionsPerPeer = 2
	DefaultMaxSessionsIn      = 16
)

// Core is one site's replication state. It is not safe for concurrent use: one owner
// calls it at a time.
type Core struct {
	cfg      Config
	rep      *crdt.Replica
	ae       *peering.AntiEntropy
	budget   *peering.Budget
	rng      *rand.Rand
	liveness *Liveness       // which peers are live, since when, which were lost (peers.go)
	inbound  map[string]int  // sessions peers started that are running, by peer (sessions.go)
	due      map[string]bool // peers Due named whose session Initiate has not started
	// marks are the changes stored but not yet carried by the site's Raft log, and
	// leading whether this replica speaks for the site (replicas.go).
	marks   map[crdt.Hash]bool
	leading bool
	// softWant are the live peers that asked for a soft session; softCompared when a
	// soft session with each peer last compared writers by bucket (soft.go).
	softWant     map[string]bool
	softCompared map[string]time.Time
	// early is the latest hint of each charter site that sent one before it was live
	// (hints.go).
	early map[string]peering.Meta
	ready Ready
}

// Ready is what the shell must do after a batch of inputs, in order: write Mark, persist,
// write Unmark; then append Replicate to the log, push and answer; events and wake-ups
// any time after.
type Ready struct {
	Mark      []crdt.Hash       // changes to mark as not in the log yet, before Persist
	Persist   crdt.Result       // stored and rejected changes; Persist.Stored goes to disk first
	Unmark    []crdt.Hash       // marks to clear, after Persist
	Replicate [][]byte          // changes to append to the site's Raft log
	Soft      []crdt.SoftChange // soft records held gained or lost: to the data file
	SoftPush  []SoftPush        // soft records this site wrote, to queue for peers
	Push      []Push
	Events    []Event
	Wake      bool // anti-entropy may have a session due: call Due
	Liveness  bool // live peers changed: the plan depends on them
	// Hint: this site's heads changed by changes neither pushes nor relays carry (the
	// site's Raft log): owe every live peer a hint. HintTo: peers whose hint showed them
	// behind this site, owed one (hints.go).
	Hint   bool
	HintTo []string
}

// Push is changes to queue for peers.
type Push struct {
	To      []string
	IDs     []crdt.Hash
	Relayed bool // received from a peer and forwarded, not written here
}

// Event is something that happened, for the event log and the process log.
type Event struct {
	Kind    string // event log kind: "site", "change"
	Subject string // event log subject: a site name
	Text    string // event log text
	Log     string // process log message
	Attrs   []any  // process log attributes
	Warn    bool   // logged as a warning, else as information
}

// New returns a core over cfg.Replica with no live peers.
func New(cfg Config) *Core {
	if cfg.MaxSessionsPerPeer == 0 {
		cfg.MaxSessionsPerPeer = DefaultMaxSessionsPerPeer
	}
	if cfg.MaxSessionsIn == 0 {
		cfg.MaxSessionsIn = DefaultMaxSessionsIn
	}
	c := &Core{
		cfg:          cfg,
		rep:          cfg.Replica,
		ae:           peering.NewAntiEntropy(cfg.Sync, rand.New(rand.NewPCG(cfg.Rand.Uint64(), 1))),
		budget:       peering.NewBudget(cfg.Budget),
		rng:          cfg.Rand,
		liveness:     NewLiveness(),
		inbound:      map[string]int{},
		due:          map[string]bool{},
		marks:        map[crdt.Hash]bool{},
		softWant:     map[string]bool{},
		softCompared: map[string]time.Time{},
		early:        map[string]peering.Meta{},
	}
	for _, id := range cfg.Marked {
		c.marks[id] = true
	}
	return c
}

// Replica is the federation state. Reads are the caller's; what changes it goes through
// the core's inputs, except the site's Raft log and restores, which persist themselves.
func (c *Core) Replica() *crdt.Replica { return c.rep }

// Ready returns what the inputs since the last call asked for, and clears it.
func (c *Core) Ready() Ready {
	rd := c.ready
	rd.Soft = c.rep.TakeSoft()
	c.ready = Ready{}
	return rd
}

// Sync reports the anti-entropy state of a peer: its advertised metadata and since when
// this site lacks what it advertised.
func (c *Core) Sync(peer string) (peering.PeerSync, bool) { return c.ae.Peer(peer) }

// Want asks for a sync session with peer soon (a push to it was dropped); the caller
// wakes its sync loop.
func (c *Core) Want(peer string) { c.ae.Want(peer) }

// Due returns the peers to start a sync session with now. The shell calls Initiate for
// each, runs the session and calls End.
func (c *Core) Due(now time.Time) []string {
	due := c.ae.Next(now, func(h [32]byte) bool { return c.rep.Has(h) }, c.rep.Len())
	for _, p := range due {
		c.due[p] = true
	}
	return due
}

func (c *Core) event(e Event) { c.ready.Events = append(c.ready.Events, e) }

// store adds what the replica did to the pending Persist, and marks what it stored for
// the site's log (replicas.go).
func (c *Core) store(res crdt.Result, from origin) {
	c.mark(res.Stored, from)
	p := &c.ready.Persist
	p.Stored = append(p.Stored, res.Stored...)
	p.Rejected = append(p.Rejected, res.Rejected...)
	p.Buffered += res.Buffered
	p.Unbuffered += res.Unbuffered
	p.Duplicate += res.Duplicate
	p.Beyond += res.Beyond
}
