package site

import (
	"time"

	"atoll/peering"
	"atoll/site/core"
	"atoll/site/kube"
)

// This file is the one place a site's defaults are written: DefaultConfig for the
// settings of site.yaml, the profiles derived from it, and the internal timings and
// bounds (Tuning) that site.yaml does not expose. Everywhere else reads the named
// fields of a Config that went through WithDefaults (Open does it), never a literal.
// docs/DEPLOY.md lists them for operators.

// DefaultConfig returns the configuration every tunable of which holds its default: the
// "wan" profile, for sites in different regions. It has no identity, addresses or
// clusters; a site.yaml supplies those. A zero tunable in site.yaml means the value here
// (or in the profile site.yaml names: DefaultLANConfig, DefaultLocalConfig).
func DefaultConfig() Config {
	return Config{
		Profile: "wan",
		// Measured on a lossy WAN (docs/BENCHMARKS.md, "Failure detection"): a failed
		// site is probed within about 1s, suspected 1s later, and declared dead after
		// 3*log10(N)*1s to 2x that (MembershipConfig); 500ms leaves a 150ms round trip
		// and its jitter room, and Lifeguard stretches it on a site that misses acks.
		// "wan-legacy" keeps memberlist's DefaultWANConfig (DefaultWANLegacyConfig).
		Membership: MembershipConfig{
			ProbeInterval:           Duration(time.Second),
			ProbeTimeout:            Duration(500 * time.Millisecond),
			SuspicionMult:           3,
			SuspicionMaxTimeoutMult: 2,
			GossipToTheDeadTime:     Duration(60 * time.Second),
			GossipInterval:          Duration(200 * time.Millisecond),
			PushPullInterval:        Duration(60 * time.Second),
		},
		Sync: SyncConfig{
			Fanout:         2,
			QueueLength:    4096,
			Interval:       Duration(peering.DefaultConfig().Interval), // 30s
			Grace:          Duration(peering.DefaultConfig().Grace),    // 500ms
			SessionTimeout: Duration(30 * time.Second),
			MetaInterval:   Duration(time.Second),
			Rejoin:         Duration(10 * time.Second),
			Ack:            Duration(30 * time.Second),
		},
		Observe: Duration(2 * time.Second),
		Resync:  Duration(kube.DefaultResync), // 5m
		Schedule: ScheduleConfig{
			Settle:  Duration(3 * time.Second),
			Startup: Duration(10 * time.Second),
		},
		HTTPLimits: HTTPLimits{
			ReadHeaderTimeout: Duration(5 * time.Second),
			BodyTimeout:       Duration(10 * time.Second),
			WriteTimeout:      Duration(30 * time.Second),
			IdleTimeout:       Duration(time.Minute),
			MaxHeaderBytes:    64 << 10,
			MaxConns:          8192,
			MaxStreams:        4096,
			SubmitBytes:       16 << 20,
			SubmitWait:        Duration(2 * time.Second),
			SubmitRate:        100,
			SubmitBurst:       200,
		},
		Tuning: DefaultTuning(),
	}
}

// DefaultWANConfig is DefaultConfig: sites in different regions.
func DefaultWANConfig() Config { return DefaultConfig() }

// DefaultWANLegacyConfig is DefaultConfig with memberlist's WAN timing, the "wan" profile
// of releases before the defaults were measured: a failed site is declared dead after
// 6*log10(N)*5s to 6x that, about 40s with 5 sites. For a site that must keep that
// timing: `profile: wan-legacy` (docs/DEPLOY.md, "Upgrading"). Only Profile and
// Membership differ.
func DefaultWANLegacyConfig() Config {
	c := DefaultConfig()
	c.Profile = "wan-legacy"
	c.Membership.ProbeInterval = Duration(5 * time.Second)
	c.Membership.ProbeTimeout = Duration(3 * time.Second)
	c.Membership.SuspicionMult = 6
	c.Membership.SuspicionMaxTimeoutMult = 6
	c.Membership.GossipInterval = Duration(500 * time.Millisecond)
	return c
}

// DefaultLANConfig is DefaultConfig with memberlist's LAN timing: sites on one network
// (round trips well under 500ms), failures found in seconds rather than tens of seconds.
// Only Profile and Membership differ.
func DefaultLANConfig() Config {
	c := DefaultConfig()
	c.Profile = "lan"
	c.Membership.ProbeInterval = Duration(time.Second)
	c.Membership.ProbeTimeout = Duration(500 * time.Millisecond)
	c.Membership.SuspicionMult = 4
	c.Membership.SuspicionMaxTimeoutMult = 6
	c.Membership.GossipToTheDeadTime = Duration(30 * time.Second)
	c.Membership.GossipInterval = Duration(200 * time.Millisecond)
	c.Membership.PushPullInterval = Duration(30 * time.Second)
	return c
}

// DefaultLocalConfig is DefaultLANConfig with memberlist's local timing: sites on one
// machine (tests, demos). Only Profile and Membership differ from DefaultConfig.
func DefaultLocalConfig() Config {
	c := DefaultLANConfig()
	c.Profile = "local"
	c.Membership.ProbeTimeout = Duration(200 * time.Millisecond)
	c.Membership.SuspicionMult = 3
	c.Membership.GossipToTheDeadTime = Duration(15 * time.Second)
	c.Membership.GossipInterval = Duration(100 * time.Millisecond)
	c.Membership.PushPullInterval = Duration(15 * time.Second)
	return c
}

// profileConfig returns the profile a site.yaml names ("" is "wan"); an unknown name,
// which Validate rejects, gets DefaultConfig.
func profileConfig(name string) Config {
	switch name {
	case "wan-legacy":
		return DefaultWANLegacyConfig()
	case "lan":
		return DefaultLANConfig()
	case "local":
		return DefaultLocalConfig()
	default:
		return DefaultConfig()
	}
}

// DefaultReplicaConfig holds the defaults of a replica section (Config.Replica), which
// DefaultConfig leaves nil: a site runs as one process unless site.yaml says otherwise.
func DefaultReplicaConfig() ReplicaConfig {
	// Raft's own defaults, which a loaded two-core host keeps (docs/adr/0004).
	return ReplicaConfig{Heartbeat: Duration(time.Second)}
}

// DefaultOIDCConfig holds the defaults of an OIDC section (Config.OIDC), which
// DefaultConfig leaves nil. Scopes nil means these; an empty list asks for none besides
// "openid".
func DefaultOIDCConfig() OIDCConfig {
	return OIDCConfig{
		Scopes:      []string{"profile", "email", "groups"},
		GroupsClaim: "groups",
		SessionTTL:  Duration(8 * time.Hour),
		MaxSessions: 4096,
	}
}

// Tuning holds the internal timings and bounds of a site: loop periods, backoffs, dial
// and write timeouts, per-peer stream limits. They are not settings of site.yaml (the
// file cannot name them); each is here, with its reason, so that it has a name, one
// default (DefaultTuning), and tests can shorten it. A zero field means its default.
type Tuning struct {
	// Reconcile is the resync period of the workload reconciler: the longest wait after a
	// clean pass before the next, which reads member clusters' status again. Changes,
	// liveness, settling shares, status and drift in a member cluster (an object of
	// Atoll's deleted or edited, an autoscaler come or gone) wake it sooner, so the
	// resync only bounds what an informer missed.
	Reconcile time.Duration
	// ReconcileBurst is how long a reconcile pass woken by stored changes waits first, so
	// that changes that arrive together land in one pass. It is short (every write waits
	// it before its objects are applied): a longer burst coalesces anyway, as the changes
	// that arrive while a pass runs all land in the next.
	ReconcileBurst time.Duration
	// StatusBurst is how long the reconciler waits, after a member cluster changed the
	// status of an object Atoll applied, before it reports that status, so that the
	// changes of a rollout land in one write; it bounds such writes to one per
	// StatusBurst.
	StatusBurst time.Duration
	// SoftPassPace bounds the reconcile passes that soft records alone wake (status and
	// capacity from any site): such a pass waits this many times the last pass's
	// duration after it ended, so that they take at most 1/(SoftPassPace+1) of a core.
	// Changes, liveness and the resync wake a pass as before.
	SoftPassPace int
	// ReconcileBackoff is the wait after a reconcile pass that did not complete (an
	// apply, namespace, prune, member client or status write failed) before the next; it
	// doubles with each failed pass in a row up to ReconcileBackoffMax, and a clean pass
	// resets it: wait = min(ReconcileBackoff * 2^(failures-1), ReconcileBackoffMax).
	// Wake-ups still run a pass sooner.
	ReconcileBackoff    time.Duration
	ReconcileBackoffMax time.Duration
	// Capacity is the least time between two publications of a member cluster's
	// capacity, which changes with every pod; health and other fields go out at once.
	Capacity time.Duration

	// SyncTick is how often the sync loop looks for anti-entropy sessions to start
	// besides being woken; the scheduler (SyncConfig) decides which ones.
	SyncTick time.Duration
	// MaxSessionsPerPeer and MaxSessionsIn bound the inbound sync sessions at once, from
	// one peer and over all peers: one more is refused, so that a peer cannot tie up the
	// replica with sessions.
	MaxSessionsPerPeer int
	MaxSessionsIn      int

	// DialTimeout bounds dialling a peer's push or soft push stream.
	DialTimeout time.Duration
	// WriteTimeout bounds writing one batch on a push or soft push stream: a peer that
	// stops reading is dropped and repaired by sessions.
	WriteTimeout time.Duration
	// PushBackoff is the first wait after a failed push dial; it doubles up to
	// PushBackoffMax (changes dropped meanwhile are repaired by sessions), and to
	// SoftPushBackoffMax for soft records, which the soft sessions repair.
	PushBackoff        time.Duration
	PushBackoffMax     time.Duration
	SoftPushBackoffMax time.Duration
	// MaxPushStreamsPerPeer caps the push streams, and the soft push streams, a peer may
	// hold open here at once: it needs one, and a second while it redials before this
	// side has seen the first one close. The transport refuses the next after the
	// handshake (LimitPerPeer).
	MaxPushStreamsPerPeer int
	// PushBatch bounds the pushed frames applied under one lock and one fsync.
	PushBatch int
	// HintInterval is the least time between two hint frames (this site's change count
	// and heads, peering.EncodeHint) on the push stream to one peer; a change of heads
	// meanwhile is sent when it ends, so the peer always gets the latest.
	HintInterval time.Duration
	// HintRefresh is how often a site whose heads changed since the last refresh owes
	// every live peer a hint anyway (pushes owe none): it bounds how stale a peer's
	// picture of this site gets (the view's per-site changes and "in sync") and how long a
	// push lost without an error at its writer waits for repair, at N-1 hints per site
	// per HintRefresh while changes flow, whatever their rate.
	HintRefresh time.Duration
	// PushVersionWait is how long the dialer of a push stream waits for the acceptor's
	// version byte; an acceptor that writes none within it is of an earlier release that
	// reads no hint frames (docs/adr/0015-hints-on-push-streams.md).
	PushVersionWait time.Duration
	// Budget bounds what one peer may make this site do: bytes per second and burst over
	// push and sync streams, invalid changes and malformed hints tolerated per window. Zero
	// fields take peering.DefaultBudgetConfig's.
	Budget peering.BudgetConfig
	// ClusterFailures is how many failed probes in a row make a healthy member cluster
	// unhealthy (clusters.go probed).
	ClusterFailures int
	// ApplyParallel is how many applies a reconcile pass has in flight to one member
	// cluster (applyall.go).
	ApplyParallel int
	// SoftQueue is how many soft records wait for one peer's soft push stream: a reconcile
	// pass or a burst of status writes fits; more are dropped for soft sessions to repair.
	SoftQueue int

	// SoftEvery is how often a site looks for peers that need a soft session (and, at a
	// replica that follows, syncs with its leader); SoftSafety how often it has one with
	// a random live peer anyway, as a safety net; SoftBuckets the least time between two
	// bucket comparisons with one peer: a pass over the records of the writers that
	// differ, which a Byzantine peer could otherwise ask for at every session
	// (docs/adr/0010-soft-state.md).
	SoftEvery   time.Duration
	SoftSafety  time.Duration
	SoftBuckets time.Duration

	// JoinBackoff is the first wait between join attempts while no other site is live;
	// it doubles up to JoinBackoffMax. Once one is, rejoins run every SyncConfig.Rejoin.
	JoinBackoff    time.Duration
	JoinBackoffMax time.Duration
	// RejoinProbe is how often a site contacts one charter site that is not live, at
	// random (rejoin.go): about how long a healed partition stays split.
	RejoinProbe time.Duration
	// LeaveTimeout bounds announcing this site's departure to memberlist at stop or when
	// a replica steps down; MetaTimeout bounds publishing new metadata to it.
	LeaveTimeout time.Duration
	MetaTimeout  time.Duration

	// ViewGap is the least time between two views computed for streams and GET /v1/view;
	// ViewBeat how often the view is computed again while streams are open (liveness and
	// lag change by themselves) and streams get a keep-alive. A view is served again
	// without being computed for up to 2*ViewBeat if nothing happened since.
	ViewGap  time.Duration
	ViewBeat time.Duration
	// APIReadHeaderTimeout bounds the request line and headers on the local API socket.
	APIReadHeaderTimeout time.Duration
	// MaxWait bounds a long poll's wait (GET /v1/changes/{id}?wait=).
	MaxWait time.Duration

	// StoreOpenTimeout is how long opening the data file waits for another process's
	// lock on it before the site refuses to start.
	StoreOpenTimeout time.Duration
	// RestoreLockWait is how long a restore waits for the data file's lock (a running
	// site holds it), and RestoreProbe how long it waits for the API socket to answer.
	RestoreLockWait time.Duration
	RestoreProbe    time.Duration

	// RaftTimeout bounds one I/O of Raft's transport between replicas; RaftPool is how
	// many idle connections it keeps per replica. RaftApply bounds the wait for an entry
	// to commit. (Raft's heartbeat, election timeout and lease come from
	// ReplicaConfig.Heartbeat: lease = Heartbeat/2.)
	RaftTimeout time.Duration
	RaftPool    int
	RaftApply   time.Duration
	// ForwardEvery is how often a replica that follows forwards to its leader the changes
	// it stored that the log does not carry yet; ForwardTimeout bounds one forward;
	// ForwardBatch bounds the changes one forward stream carries.
	ForwardEvery   time.Duration
	ForwardTimeout time.Duration
	ForwardBatch   int
}

// DefaultTuning returns the default internal timings and bounds.
func DefaultTuning() Tuning {
	return Tuning{
		Reconcile:      30 * time.Second,
		ReconcileBurst: 5 * time.Millisecond,
		StatusBurst:    100 * time.Millisecond,
		SoftPassPace:   2,
		// client-go's exponential failure limiter starts at 5ms; a pass costs more.
		ReconcileBackoff:    100 * time.Millisecond,
		ReconcileBackoffMax: 30 * time.Second,
		Capacity:            30 * time.Second,

		SyncTick:           100 * time.Millisecond,
		MaxSessionsPerPeer: core.DefaultMaxSessionsPerPeer,
		MaxSessionsIn:      core.DefaultMaxSessionsIn,

		DialTimeout:           5 * time.Second,
		WriteTimeout:          10 * time.Second,
		PushBackoff:           100 * time.Millisecond,
		PushBackoffMax:        5 * time.Second,
		SoftPushBackoffMax:    30 * time.Second,
		MaxPushStreamsPerPeer: 2,
		PushBatch:             256,
		HintInterval:          100 * time.Millisecond,
		HintRefresh:           5 * time.Second,
		PushVersionWait:       2 * time.Second,
		Budget:                peering.DefaultBudgetConfig(),
		ApplyParallel:         16,
		ClusterFailures:       3,
		SoftQueue:             16384,

		SoftEvery:   time.Second,
		SoftSafety:  30 * time.Second,
		SoftBuckets: 10 * time.Second,

		JoinBackoff:    200 * time.Millisecond,
		JoinBackoffMax: 5 * time.Second,
		RejoinProbe:    time.Second,
		LeaveTimeout:   time.Second,
		MetaTimeout:    time.Second,

		ViewGap:              500 * time.Millisecond,
		ViewBeat:             2 * time.Second,
		APIReadHeaderTimeout: 5 * time.Second,
		MaxWait:              time.Minute,

		StoreOpenTimeout: 5 * time.Second,
		RestoreLockWait:  500 * time.Millisecond,
		RestoreProbe:     2 * time.Second,

		RaftTimeout:    10 * time.Second,
		RaftPool:       3,
		RaftApply:      10 * time.Second,
		ForwardEvery:   time.Second,
		ForwardTimeout: 10 * time.Second,
		ForwardBatch:   1024,
	}
}

// WithDefaults returns c with every zero tunable set to its default from the profile
// c.Profile names (DefaultConfig for "" and "wan"): the one way defaults are filled.
// Optional sections (Replica, OIDC) get theirs only if present, and are copied, so c's
// are never changed. Validate c first: WithDefaults does not check anything.
func (c Config) WithDefaults() Config {
	d := profileConfig(c.Profile)
	fill(&c.Profile, d.Profile)

	m, dm := &c.Membership, d.Membership
	fill(&m.ProbeInterval, dm.ProbeInterval)
	fill(&m.ProbeTimeout, dm.ProbeTimeout)
	fill(&m.SuspicionMult, dm.SuspicionMult)
	fill(&m.SuspicionMaxTimeoutMult, dm.SuspicionMaxTimeoutMult)
	fill(&m.GossipToTheDeadTime, dm.GossipToTheDeadTime)
	fill(&m.GossipInterval, dm.GossipInterval)
	fill(&m.PushPullInterval, dm.PushPullInterval)

	s, ds := &c.Sync, d.Sync
	fill(&s.Fanout, ds.Fanout)
	fill(&s.QueueLength, ds.QueueLength)
	fill(&s.Interval, ds.Interval)
	fill(&s.Grace, ds.Grace)
	fill(&s.SessionTimeout, ds.SessionTimeout)
	fill(&s.MetaInterval, ds.MetaInterval)
	fill(&s.Rejoin, ds.Rejoin)
	fill(&s.Ack, ds.Ack)

	fill(&c.Observe, d.Observe)
	fill(&c.Resync, d.Resync)
	fill(&c.Schedule.Settle, d.Schedule.Settle)
	fill(&c.Schedule.Startup, d.Schedule.Startup)

	h, dh := &c.HTTPLimits, d.HTTPLimits
	fill(&h.ReadHeaderTimeout, dh.ReadHeaderTimeout)
	fill(&h.BodyTimeout, dh.BodyTimeout)
	fill(&h.WriteTimeout, dh.WriteTimeout)
	fill(&h.IdleTimeout, dh.IdleTimeout)
	fill(&h.MaxHeaderBytes, dh.MaxHeaderBytes)
	fill(&h.MaxConns, dh.MaxConns)
	fill(&h.MaxStreams, dh.MaxStreams)
	fill(&h.SubmitBytes, dh.SubmitBytes)
	fill(&h.SubmitWait, dh.SubmitWait)
	fill(&h.SubmitRate, dh.SubmitRate)
	fill(&h.SubmitBurst, dh.SubmitBurst)

	if c.Replica != nil {
		r, dr := *c.Replica, DefaultReplicaConfig()
		fill(&r.Heartbeat, dr.Heartbeat)
		c.Replica = &r
	}
	if c.OIDC != nil {
		o, do := *c.OIDC, DefaultOIDCConfig()
		if o.Scopes == nil {
			o.Scopes = do.Scopes
		}
		fill(&o.GroupsClaim, do.GroupsClaim)
		fill(&o.SessionTTL, do.SessionTTL)
		fill(&o.MaxSessions, do.MaxSessions)
		c.OIDC = &o
	}

	c.Tuning = c.Tuning.withDefaults()
	return c
}

// withDefaults returns t with every zero field set from DefaultTuning.
func (t Tuning) withDefaults() Tuning {
	d := DefaultTuning()
	fill(&t.Reconcile, d.Reconcile)
	fill(&t.ReconcileBurst, d.ReconcileBurst)
	fill(&t.StatusBurst, d.StatusBurst)
	fill(&t.SoftPassPace, d.SoftPassPace)
	fill(&t.ReconcileBackoff, d.ReconcileBackoff)
	fill(&t.ReconcileBackoffMax, d.ReconcileBackoffMax)
	fill(&t.Capacity, d.Capacity)
	fill(&t.SyncTick, d.SyncTick)
	fill(&t.MaxSessionsPerPeer, d.MaxSessionsPerPeer)
	fill(&t.MaxSessionsIn, d.MaxSessionsIn)
	fill(&t.DialTimeout, d.DialTimeout)
	fill(&t.WriteTimeout, d.WriteTimeout)
	fill(&t.PushBackoff, d.PushBackoff)
	fill(&t.PushBackoffMax, d.PushBackoffMax)
	fill(&t.SoftPushBackoffMax, d.SoftPushBackoffMax)
	fill(&t.MaxPushStreamsPerPeer, d.MaxPushStreamsPerPeer)
	fill(&t.PushBatch, d.PushBatch)
	fill(&t.HintInterval, d.HintInterval)
	fill(&t.HintRefresh, d.HintRefresh)
	fill(&t.PushVersionWait, d.PushVersionWait)
	fill(&t.Budget, d.Budget)
	fill(&t.ApplyParallel, d.ApplyParallel)
	fill(&t.ClusterFailures, d.ClusterFailures)
	fill(&t.SoftQueue, d.SoftQueue)
	fill(&t.SoftEvery, d.SoftEvery)
	fill(&t.SoftSafety, d.SoftSafety)
	fill(&t.SoftBuckets, d.SoftBuckets)
	fill(&t.JoinBackoff, d.JoinBackoff)
	fill(&t.JoinBackoffMax, d.JoinBackoffMax)
	fill(&t.RejoinProbe, d.RejoinProbe)
	fill(&t.LeaveTimeout, d.LeaveTimeout)
	fill(&t.MetaTimeout, d.MetaTimeout)
	fill(&t.ViewGap, d.ViewGap)
	fill(&t.ViewBeat, d.ViewBeat)
	fill(&t.APIReadHeaderTimeout, d.APIReadHeaderTimeout)
	fill(&t.MaxWait, d.MaxWait)
	fill(&t.StoreOpenTimeout, d.StoreOpenTimeout)
	fill(&t.RestoreLockWait, d.RestoreLockWait)
	fill(&t.RestoreProbe, d.RestoreProbe)
	fill(&t.RaftTimeout, d.RaftTimeout)
	fill(&t.RaftPool, d.RaftPool)
	fill(&t.RaftApply, d.RaftApply)
	fill(&t.ForwardEvery, d.ForwardEvery)
	fill(&t.ForwardTimeout, d.ForwardTimeout)
	fill(&t.ForwardBatch, d.ForwardBatch)
	return t
}

// fill sets *v to def if *v is zero.
func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
