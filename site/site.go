package site

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/kube"
	"atoll/site/store"
	"atoll/site/transport"
)

// Version is the running binary's version, reported in State and in the view's entry for
// this site. The program sets it before Open (cmd/atoll from -ldflags "-X main.version=...");
// it is build metadata, like prometheus/common/version, not configuration. Peers do not
// learn it: peering.Meta's encoding stays as it is, so that mixed versions interoperate.
var Version = "dev"

// Site is one running site: the shell around its core (site/core). Each embedded group
// below is one concern, documented where it is declared, with what guards it.
type Site struct {
	cfg         Config
	log         *slog.Logger
	speaker     // who the site speaks as
	replication // the core and what carries out its Readys, under mu
	network     // transport, membership and what it advertises
	reconciler  // member clusters and the reconcile loop
	telemetry   // audit records, events, counters, metrics
	httpState   // the HTTP server's limits, views and streams
	lifecycle   // the goroutines Run started
}

// speaker is who the site speaks as: the key it signs and handshakes with, and the keys
// it holds (rotate.go).
type speaker struct {
	version string // Version when Open ran
	signer  atomic.Pointer[crdt.Signer]
	keys    *keyring
}

// replication is the site's core and the state that carries out its Readys: mu guards
// every field below it. The wake channels are set by Open and never replaced.
type replication struct {
	repWake chan struct{} // asks replicateLoop to drain repQueue
	wake    chan struct{} // asks the sync loop to look again

	mu   sync.Mutex
	core *core.Core
	rep  *crdt.Replica // the core's, for reads
	st   *store.Store
	sync SyncConfig
	// verify checks bursts of changes on every core before they take mu (verify.go); the
	// replica skips the ids it remembers.
	verify *verifier

	links    map[string]*peer // push links of the live peers, by name
	versions map[string]int32 // what each site's push stream last answered (hints.go)
	raft     *raft.Raft       // nil for a site of one replica; set before the loops start
	repQueue [][]byte         // changes to append to the Raft log (Ready.Replicate)
	arrived  chan struct{}    // closed and replaced whenever changes or soft records are stored
	// hardArrived is closed and replaced whenever changes are stored (not soft records).
	hardArrived chan struct{}
	templates   map[string]template // by workload key, parsed once per change
	pols        policies            // the stored policies, decoded once per change
	missing     crdt.PubKey         // a key the charter gave this site that it does not hold, once logged
}

// network is the site's transport and membership. The atomics are read without a lock
// by the transport's and memberlist's goroutines.
type network struct {
	trans   *transport.Transport
	ml      *memberlist.Memberlist       // set while leading
	sites   atomic.Pointer[charterSites] // the charter's sites, for the transport
	meta    atomic.Pointer[[]byte]       // what memberlist advertises: empty unless needed (hints.go)
	metaOn  atomic.Bool                  // meta holds this site's Meta, not empty
	dirty   atomic.Bool                  // meta is out of date
	stale   atomic.Bool                  // heads changed since the last hint refresh (hints.go)
	serving atomic.Bool                  // leads the site: membership and reconciliation run
	started time.Time
}

// reconciler is what the reconcile loop and the member-cluster loop work with.
type reconciler struct {
	kubes       *kube.Registry
	parsed      *kube.Templates // parsed workload templates, this site's own (not shared with sites in the same process)
	admission   *kube.Admitter  // this site's admission policy (site.yaml admission:)
	reconcileMu sync.Mutex      // one reconcile pass or unjoin at a time
	// publishMu orders a cluster's publication and its unjoin: a publication that began
	// before the unjoin must not write the Cluster object again after its removal.
	publishMu    sync.Mutex
	clustersWake chan struct{}
	schedWake    chan struct{} // asks the reconciler for a pass (liveness changed)
	statusWake   chan struct{} // asks the reconciler to report changed status (statusnow.go)
	driftWake    chan struct{} // a member cluster drifted from what Atoll applied (kube.Applier OnDrift)
	// reported is, per cluster and object, what the last pass knew of what it applied
	// there (statusnow.go); guarded by reconcileMu.
	reported     map[string]map[string]reported
	observeEvery time.Duration
	decisions    *decisions
	plans        passCache // the reconcile pass's previous plans
}

// telemetry is what the site records of itself, each safe for concurrent use.
type telemetry struct {
	audit   *auditLog
	events  *eventLog
	counter counters
	metrics *metrics
}

// httpState is the HTTP server's.
type httpState struct {
	httpLim   HTTPLimits                // cfg.HTTPLimits with defaults
	views     *viewcast                 // the view computed once for every stream and GET /v1/view
	streams   atomic.Int64              // open GET /v1/stream and watches of /k8s/
	kube      atomic.Pointer[kubeProxy] // the Kubernetes API while it runs (kubeproxy.go)
	viewPlans passCache                 // the view's previous plans
}

// lifecycle is the goroutines Run started, stopped with ctx and awaited with wg.
type lifecycle struct {
	wg  sync.WaitGroup
	ctx context.Context
}

// counters are the site's activity totals, for the API and benchmarks.
type counters struct {
	pushedOut, pushedIn, forwarded, dropped atomic.Uint64
	sessionsOut, sessionsIn, sessionFails   atomic.Uint64
	rejected, refusedFrames                 atomic.Uint64
	hintsOut, hintsIn, hintErrors           atomic.Uint64 // hint frames sent; taken; refused (hints.go)
	refusedStreams, unbuffered              atomic.Uint64 // HTTP streams over MaxStreams; changes not buffered (crdt Result.Unbuffered)
	syncBytes, syncPayload, syncMessages    atomic.Uint64
	softWritten, softIn                     atomic.Uint64 // soft records written here; received (pushed or in sessions)
	softSessions, softBytes                 atomic.Uint64
	// Membership flaps: suspicions this site raised, suspects it declared dead,
	// suspicions of itself it refuted (memberlog.go), and peers memberlist reported gone
	// (dead or left).
	suspects, deaths, refutes, peersLost atomic.Uint64
}

// Open loads a site's identity, charter and data file. Nothing touches the network until Run.
func Open(cfg Config, log *slog.Logger) (*Site, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Runnable(); err != nil {
		return nil, err
	}
	keys, err := loadKeyring(cfg)
	if err != nil {
		return nil, err
	}
	signer := keys.identity
	genesis, err := os.ReadFile(cfg.Path(cfg.Genesis))
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	admit, err := kube.NewAdmitter(cfg.Admission)
	if err != nil {
		return nil, err
	}
	var self *Site           // for the audit hook, set once the site exists
	var archive *store.Store // the data file, once open: where compacted changes are read back
	verify := newVerifier()
	newReplica := func(genesis []byte, signer *crdt.Signer) (*crdt.Replica, error) {
		rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: signer.Public(), BodySent: func(id crdt.Hash, peer crdt.PubKey, bound []string) {
			if self != nil {
				self.bodySent(id, peer, bound)
			}
		}, Archive: func(id crdt.Hash) (*crdt.Envelope, bool) { return archived(archive, id) }, Verified: verify.set})
		if err != nil {
			return nil, fmt.Errorf("genesis %s: %w", cfg.Path(cfg.Genesis), err)
		}
		return rep, nil
	}
	rep, err := newReplica(genesis, signer)
	if err != nil {
		return nil, err
	}
	dir := cfg.Path(cfg.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	key, prevKey, err := keys.dataKeys(rep.Genesis())
	if err != nil {
		return nil, err
	}
	st, err := openSiteStore(cfg, cfg.DataFile(), store.Options{Timeout: cfg.Tuning.StoreOpenTimeout, Key: key, PreviousKey: prevKey})
	if err != nil {
		return nil, err
	}
	archive = st
	if err := restoreStore(st, rep); err != nil {
		st.Close()
		return nil, fmt.Errorf("restoring %s: %w", dir, err)
	}
	if err := restoreSoft(st, rep); err != nil {
		st.Close()
		return nil, fmt.Errorf("restoring %s: %w", dir, err)
	}
	if k := keys.listed(rep.Charter(), cfg); k != nil && k != signer {
		// The charter rotated the site's key to another it holds: restore again as that
		// key, whose jurisdiction decides which bodies the replica keeps.
		signer = k
		if rep, err = newReplica(genesis, signer); err != nil {
			st.Close()
			return nil, err
		}
		if err := restoreStore(st, rep); err != nil {
			st.Close()
			return nil, fmt.Errorf("restoring %s: %w", dir, err)
		}
		if err := restoreSoft(st, rep); err != nil {
			st.Close()
			return nil, fmt.Errorf("restoring %s: %w", dir, err)
		}
	}
	s := &Site{
		cfg: cfg, log: log,
		speaker: speaker{version: Version, keys: keys},
		replication: replication{rep: rep, st: st, sync: cfg.Sync, verify: verify, links: map[string]*peer{}, versions: map[string]int32{},
			repWake: make(chan struct{}, 1), wake: make(chan struct{}, 1), arrived: make(chan struct{}), hardArrived: make(chan struct{}), templates: map[string]template{}},
		reconciler: reconciler{kubes: kube.NewRegistry(dir, key), parsed: kube.NewTemplates(), admission: admit, clustersWake: make(chan struct{}, 1), schedWake: make(chan struct{}, 1), statusWake: make(chan struct{}, 1), driftWake: make(chan struct{}, 1),
			observeEvery: max(cfg.Observe.D(), 0), decisions: newDecisions()},
		telemetry: telemetry{audit: newAuditLog(), events: newEventLog()},
	}
	self = s
	s.signer.Store(signer)
	var prevSealer kube.Sealer // set only if there is one: a nil *DataKey in it is not nil
	if prevKey != nil {
		prevSealer = prevKey
		log.Info("previousIdentity set: what is sealed under its data key is re-sealed under identity's", "previous", FormatKey(keys.previous.Public()))
	}
	sealed, err := s.kubes.SealClear(prevSealer)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if len(sealed) > 0 {
		log.Info("kubeconfigs in clear sealed", "clusters", sealed)
	}
	s.httpLim, s.views = cfg.HTTPLimits, newViewcast(2*cfg.Tuning.ViewBeat)
	s.metrics = newMetrics(s)
	marked, err := st.Unreplicated()
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := s.checkCharter(); err != nil {
		st.Close()
		return nil, err
	}
	s.core = core.New(core.Config{Self: cfg.Name, Replica: rep, Rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), Observer: cfg.Observer,
		Fanout: s.sync.Fanout, Sync: peering.Config{Interval: s.sync.Interval.D(), Grace: s.sync.Grace.D()}, Budget: cfg.Tuning.Budget,
		MaxSessionsPerPeer: cfg.Tuning.MaxSessionsPerPeer, MaxSessionsIn: cfg.Tuning.MaxSessionsIn,
		Replicas: cfg.Replica != nil, Marked: hashIDs(marked), SoftBuckets: cfg.Tuning.SoftBuckets})
	s.refreshCharter()
	s.refreshMeta(!cfg.Observer) // until every live peer is known to read hints
	s.mu.Lock()
	s.persist(s.core.Ready()) // soft records restoring dropped (a workload removed before they were)
	s.mu.Unlock()
	log.Info("site opened", "name", cfg.Name, "version", Version, "key", FormatKey(s.signer.Load().Public()), "changes", rep.Len(), "digest", rep.Digest().String())
	return s, nil
}

// Close releases the data file of a site that was opened but not run.
func (s *Site) Close() error { return s.st.Close() }

// checkCharter verifies that the charter lists this site under its name and one of the
// keys it holds, which it speaks as from then on, with the region and jurisdiction the
// configuration states.
func (s *Site) checkCharter() error {
	ch := s.rep.Charter()
	if s.cfg.Observer {
		if name := ch.Observers[s.signer.Load().Public()]; name != s.cfg.Name {
			return fmt.Errorf("observer %q: charter %q lists key %s as observer %q", s.cfg.Name, ch.Name, FormatKey(s.signer.Load().Public()), name)
		}
		return nil
	}
	info, ok := ch.SiteByName(s.cfg.Name)
	if !ok && s.removedLocked() {
		// It runs to delete what Atoll created in its member clusters, and writes nothing.
		s.log.Warn("this site was removed from the charter: cleaning its member clusters", "name", s.cfg.Name, "charter", ch.Name)
		return nil
	}
	if !ok && s.cfg.Join {
		s.log.Info("site not in the charter yet: joining through its seeds", "name", s.cfg.Name, "charter", ch.Name)
		return nil
	}
	if !ok {
		return fmt.Errorf("site %q is not in charter %q (sites: %v)", s.cfg.Name, ch.Name, ch.SiteNames())
	}
	held := s.keys.find(info.Key)
	if held == nil {
		var have []string
		for _, k := range s.keys.signers() {
			have = append(have, FormatKey(k.Public()))
		}
		return fmt.Errorf("site %q: the charter lists key %s, the identity files (identity, nextIdentity, previousIdentity) hold %v", s.cfg.Name, FormatKey(info.Key), have)
	}
	if held != s.signer.Load() {
		s.log.Info("the charter lists another key this site holds: speaking as it", "key", FormatKey(held.Public()))
		s.useKey(held)
	}
	if s.cfg.Region != "" && s.cfg.Region != info.Region {
		return fmt.Errorf("site %q: configured region %q, the charter attests %q", s.cfg.Name, s.cfg.Region, info.Region)
	}
	if s.cfg.Jurisdiction != "" && s.cfg.Jurisdiction != info.Jurisdiction {
		return fmt.Errorf("site %q: configured jurisdiction %q, the charter attests %q", s.cfg.Name, s.cfg.Jurisdiction, info.Jurisdiction)
	}
	return nil
}

// refreshCharter republishes the charter's sites for the transport. Called with mu held
// (or before Run).
func (s *Site) refreshCharter() {
	ch := s.rep.Charter()
	cs := charterSites{charter: ch, byKey: map[crdt.PubKey]string{}, byName: map[string]crdt.PubKey{}, observers: map[crdt.PubKey]string{}}
	// Peers: the charter less what concurrent branches of it do not all attest (crdt
	// PeerCharter), so that a fork never widens whom the transport accepts.
	peers := s.rep.PeerCharter()
	for k, info := range peers.Sites {
		cs.byKey[k], cs.byName[info.Name] = info.Name, k
	}
	for k, name := range peers.Observers {
		cs.observers[k] = observerNode(name)
	}
	s.sites.Store(&cs)
	s.followRotation(ch)
	if s.trans != nil {
		s.trans.Revalidate() // no stream outlives its peer's key in the charter
	}
}

// charter returns the current charter without taking mu: the one refreshCharter published.
func (s *Site) charter() *crdt.Charter { return s.sites.Load().charter }

// refreshMeta recomputes the advertised metadata: this site's Meta if on, else empty.
// Called with mu held (or before Run).
func (s *Site) refreshMeta(on bool) {
	b := []byte{}
	if on {
		b = s.currentMeta().Encode()
	}
	s.meta.Store(&b)
	s.metaOn.Store(on)
}

// Run joins the federation and serves until ctx ends, then leaves and closes everything.
func (s *Site) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	s.started = time.Now()
	s.verify.run(ctx, &s.wg) // before the transport hands over any burst
	tr, err := transport.New(transport.Config{
		Name: s.nodeName(), Key: s.signer.Load().PrivateKey(), BindAddr: s.cfg.Listen,
		AdvertiseAddr: s.cfg.AdvertiseAddr(), Peers: charterPeers{s}, Logger: s.log,
	})
	if err != nil {
		s.st.Close()
		return err
	}
	s.trans = tr
	tr.Handle(chanPush, s.servePush)
	tr.Handle(chanSync, s.serveSync)
	tr.Handle(chanSoftPush, s.serveSoftPush)
	tr.Handle(chanSoft, s.serveSoft)
	tr.LimitPerPeer(chanSoftPush, s.cfg.Tuning.MaxPushStreamsPerPeer)
	tr.LimitPerPeer(chanPush, s.cfg.Tuning.MaxPushStreamsPerPeer)
	var layer *raftLayer
	if s.cfg.Replica != nil {
		r, l, err := s.startRaft()
		if err != nil {
			tr.Shutdown()
			s.st.Close()
			return err
		}
		s.raft, layer = r, l
		s.wg.Add(1)
		go s.forwardLoop(ctx)
	}
	s.wg.Add(3) // after s.raft is set: they read it
	go s.viewLoop(ctx)
	go s.softLoop(ctx)
	go s.ackLoop(ctx)
	api, err := s.serveAPI()
	if err != nil {
		if s.raft != nil {
			_ = s.raft.Shutdown().Error()
			layer.Close()
		}
		tr.Shutdown()
		s.st.Close()
		return err
	}
	web, err := s.serveHTTP()
	if err != nil {
		api.Close()
		if s.raft != nil {
			_ = s.raft.Shutdown().Error()
			layer.Close()
		}
		tr.Shutdown()
		s.st.Close()
		return err
	}
	defer web.Close()
	ip, port := tr.Addr()
	s.log.Info("site running", "name", s.cfg.Name, "listen", fmt.Sprintf("%s:%d", ip, port), "api", s.cfg.SocketPath())
	var runErr error
	if s.cfg.Replica == nil {
		if _, err := s.startLeader(ctx); err != nil {
			api.Close()
			tr.Shutdown()
			s.st.Close()
			return err
		}
		<-ctx.Done()
	} else {
		runErr = s.followLeadership(ctx)
		_ = s.raft.Shutdown().Error()
		layer.Close()
	}
	cancel()

	s.log.Info("site stopping", "name", s.cfg.Name)
	api.Close()
	web.Close()
	if s.ml != nil {
		_ = s.ml.Leave(s.cfg.Tuning.LeaveTimeout)
		_ = s.ml.Shutdown()
	}
	s.stopPeers()
	_ = tr.Shutdown()
	s.wg.Wait()
	return errors.Join(runErr, s.st.Close())
}

// siteNames returns the names of the charter's sites.
func (s *Site) siteNames() []string {
	names := make([]string, 0, len(s.sites.Load().byName))
	for name := range s.sites.Load().byName {
		names = append(names, name)
	}
	return names
}

// metaLoop republishes the advertised metadata at most every MetaInterval: this site's
// Meta while some live node needs it, else empty once (hints.go).
func (s *Site) metaLoop(ctx context.Context) {
	s.every(ctx, s.sync.MetaInterval.D(), nil, func() {
		on := s.metaNeeded()
		if on == s.metaOn.Load() && !(on && s.dirty.Swap(false)) {
			return
		}
		if on != s.metaOn.Load() {
			s.log.Debug("memberlist metadata", "on", on)
		}
		s.mu.Lock()
		s.refreshMeta(on)
		s.mu.Unlock()
		if err := s.ml.UpdateNode(s.cfg.Tuning.MetaTimeout); err != nil {
			s.log.Debug("metadata update", "err", err)
		}
	})
}

// every calls fn every d, and whenever wake (nil: never) fires, until ctx ends, as one
// of the site's goroutines (wg).
func (s *Site) every(ctx context.Context, d time.Duration, wake <-chan struct{}, fn func()) {
	defer s.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		fn()
	}
}

// persist carries out the durable half of a Ready, in order: the marks of changes the
// site's log does not carry yet, the changes, the marks the log cleared; then it queues
// what goes to the log. mu must be held.
func (s *Site) persist(rd core.Ready) {
	if len(rd.Mark) > 0 {
		if err := s.st.MarkUnreplicated(rawIDs(rd.Mark)); err != nil {
			s.fatal(err)
		}
	}
	s.persistLocal(rd.Persist)
	s.persistSoft(rd.Soft)
	s.hinted(rd.Hint, rd.HintTo)
	if len(rd.Unmark) > 0 {
		if err := s.st.Replicated(rawIDs(rd.Unmark)); err != nil {
			s.fatal(err)
		}
	}
	if len(rd.Replicate) > 0 {
		s.repQueue = append(s.repQueue, rd.Replicate...)
		select {
		case s.repWake <- struct{}{}:
		default:
		}
	}
}

func hashIDs(hs [][32]byte) []crdt.Hash {
	out := make([]crdt.Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

func rawIDs(ids []crdt.Hash) [][32]byte {
	out := make([][32]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// persistLocal stores what the replica accepted, and counts it and what it rejected; mu
// must be held. A change is acknowledged only after this returns (and, with replicas,
// after the Raft log commits it). A failing disk stops the site: its memory is ahead of
// its file.
func (s *Site) persistLocal(res crdt.Result) {
	if len(res.Stored) == 0 {
		s.metrics.noteResult(0, res.Rejected)
		return
	}
	recs := make([]store.Record, 0, len(res.Stored))
	charter := false
	for _, env := range res.Stored {
		// A known change comes again with a body that arrived, or header-only when a
		// charter change dropped its body: Save replaces its record.
		recs = append(recs, store.Record{ID: env.ID, Data: env.Encode()})
		charter = charter || env.Change.IsCharter()
	}
	added, err := s.st.Save(recs)
	if err == nil {
		err = storeSkeletons(s.st, s.rep)
	}
	if err != nil {
		s.fatal(err)
	}
	s.metrics.noteResult(added, res.Rejected)
	if charter {
		s.refreshCharter()
	}
	s.noteChanges(res.Stored)
	s.dirty.Store(true)
	s.stale.Store(true)
	close(s.arrived)
	s.arrived = make(chan struct{})
	close(s.hardArrived)
	s.hardArrived = make(chan struct{})
}

func (s *Site) fatal(err error) {
	s.log.Error("data file write failed; stopping", "err", err)
	panic(fmt.Sprintf("site %s: data file: %v", s.cfg.Name, err))
}

// charterPeers answers the transport's questions from the current charter.
type charterPeers struct{ s *Site }

func (p charterPeers) Lookup(key ed25519.PublicKey) (string, bool) {
	if len(key) != ed25519.PublicKeySize {
		return "", false
	}
	cs := p.s.sites.Load()
	if name, ok := cs.byKey[crdt.PubKey(key)]; ok {
		return name, true
	}
	if name, ok := cs.observers[crdt.PubKey(key)]; ok {
		return name, true
	}
	if p.s.ownKey(crdt.PubKey(key)) {
		return p.s.cfg.Name, true
	}
	return "", false
}

// charterSites indexes the charter's sites both ways, and its observers by key (under
// their node names, see observerNode).
type charterSites struct {
	charter   *crdt.Charter // the whole charter, read-only: the HTTP server's identities
	byKey     map[crdt.PubKey]string
	byName    map[string]crdt.PubKey
	observers map[crdt.PubKey]string
}

// observerNode is an observer's name on the network: apart from the sites' names.
func observerNode(name string) string { return "observer:" + name }

// nodeName is this process's name for the transport and the membership.
func (s *Site) nodeName() string {
	if s.cfg.Observer {
		return observerNode(s.cfg.Name)
	}
	return s.cfg.Name
}

// keyOf returns the charter key of a site.
func (s *Site) keyOf(name string) (crdt.PubKey, bool) {
	k, ok := s.sites.Load().byName[name]
	return k, ok
}

// observerKey returns the charter key of an observer, by node name.
func (s *Site) observerKey(node string) (crdt.PubKey, bool) {
	for k, name := range s.sites.Load().observers {
		if name == node {
			return k, true
		}
	}
	return crdt.PubKey{}, false
}
