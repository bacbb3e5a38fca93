package chaos

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"atoll/crdt"
	"atoll/site/core"
	"atoll/site/store"
)

// Config sets up one simulated run.
type Config struct {
	Sites     int    // replicas, Byzantine ones included
	Byzantine int    // how many of them are Byzantine (must be < Sites)
	Seed      uint64 // everything random derives from it
	Ticks     int    // length of the chaos phase in ticks. Default 120.
	MaxRounds int    // quiescence rounds before declaring divergence. Default 40.
	Dir       string // where the bbolt stores go; a temporary directory if empty
	Fanout    int    // peers an eager push goes to. Default 3.
}

func (c *Config) defaults() {
	if c.Ticks == 0 {
		c.Ticks = 120
	}
	if c.MaxRounds == 0 {
		c.MaxRounds = 40
	}
	if c.Fanout == 0 {
		c.Fanout = 3
	}
}

// Validate reports a config that cannot run.
func (c Config) Validate() error {
	if c.Sites < 2 || c.Sites > 250 {
		return fmt.Errorf("chaos: sites must be 2 to 250, not %d", c.Sites)
	}
	if c.Byzantine < 0 || c.Byzantine >= c.Sites {
		return fmt.Errorf("chaos: byzantine must be 0 to sites-1, not %d", c.Byzantine)
	}
	return nil
}

var jurisdictions = []string{"EU", "US", "IN", "BR"}

type node struct {
	idx      int
	name     string
	signer   *crdt.Signer
	dataKey  *crdt.Signer // the first key: its data file stays sealed under it
	jur      string
	byz      bool
	core     *core.Core    // the site's replication core (site/core); nil while crashed
	rep      *crdt.Replica // core's replica; nil while crashed
	st       *store.Store
	path     string
	sessions map[uint64]*core.Session
	started  map[uint64]int // tick each session began
	outgoing uint64         // the session this node chose to initiate (quiescence), 0 if none
	soft     softNode       // soft records and sessions (soft.go)
}

type sim struct {
	cfg       Config
	rng       *rand.Rand
	net       *network
	nodes     []*node
	operators []*crdt.Signer // operators[0]: namespace "shop"; [1]: everything
	genesis   []byte
	genesisID crdt.Hash // what soft records are signed for
	tick      int
	nextSID   uint64
	index     map[string]int // node index by name

	stored       map[crdt.Hash]bool // every change a correct replica stored
	invalid      map[crdt.Hash]string
	bodies       map[crdt.Hash][]string // bound of each sealed change written
	writeBytes   []int
	ratios       []float64 // session bytes / payload, quiescence phase
	withinTarget int       // of those sessions, how many spent at most 1.3 x payload + 1 KiB
	healing      bool
	rejected     int
	verified     verifiedSet // shared by the simulated replicas: each signature is checked once

	keys       map[crdt.PubKey]*crdt.Signer // every key of the run, by public key (amend.go)
	amendments int
	nextKey    int
	revoked    []revokedKey
	voided     map[crdt.Hash]backdated // changes signed with revoked keys, void wherever held
	rogues     []crdt.PubKey
	rogueSites []rogueSite // the sites the rogue charter changes admit, with their keys

	softStats softStats
	reached   map[crdt.Hash]*reached // every soft record that reached a correct replica (soft_check.go)
}

type verifiedSet map[crdt.Hash]struct{}

func (v verifiedSet) Has(id crdt.Hash) bool { _, ok := v[id]; return ok }
func (v verifiedSet) Add(id crdt.Hash)      { v[id] = struct{}{} }

func seededSigner(seed uint64, role string, i int) *crdt.Signer {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	s := sha256.Sum256(append(b[:], fmt.Sprintf("%s/%d", role, i)...))
	return crdt.SignerFromSeed(s[:])
}

func newSim(cfg Config) (*sim, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sim{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		stored:   map[crdt.Hash]bool{},
		invalid:  map[crdt.Hash]string{},
		bodies:   map[crdt.Hash][]string{},
		verified: verifiedSet{},
		keys:     map[crdt.PubKey]*crdt.Signer{},
		voided:   map[crdt.Hash]backdated{},
		reached:  map[crdt.Hash]*reached{},
	}
	s.net = newNetwork(s.rng, cfg.Sites)
	s.index = map[string]int{}
	spec := crdt.CharterSpec{Name: "sim", Threshold: 2}
	var admins []*crdt.Signer
	for i, name := range []string{"ada", "bob", "cy"} {
		a := seededSigner(cfg.Seed, "admin", i)
		admins = append(admins, a)
		s.keys[a.Public()] = a
		spec.Admins = append(spec.Admins, crdt.Member{Name: name, Key: a.Public()})
	}
	for i := 0; i < cfg.Sites; i++ {
		n := &node{idx: i, name: fmt.Sprintf("site-%d", i), signer: seededSigner(cfg.Seed, "site", i),
			jur: jurisdictions[i%len(jurisdictions)], byz: i >= cfg.Sites-cfg.Byzantine,
			sessions: map[uint64]*core.Session{}, started: map[uint64]int{}, soft: newSoftNode()}
		s.nodes = append(s.nodes, n)
		s.index[n.name] = i
		s.keys[n.signer.Public()] = n.signer
		spec.Sites = append(spec.Sites, crdt.SiteInfo{Name: n.name, Key: n.signer.Public(), Region: n.name, Jurisdiction: n.jur})
	}
	for i, ns := range [][]string{{"shop"}, {"*"}} {
		op := seededSigner(cfg.Seed, "operator", i)
		s.operators = append(s.operators, op)
		s.keys[op.Public()] = op
		spec.Operators = append(spec.Operators, crdt.OperatorInfo{Name: fmt.Sprintf("op-%d", i), Key: op.Public(), Namespaces: ns})
	}
	g, err := crdt.NewGenesis(spec, admins[0], admins[1])
	if err != nil {
		return nil, err
	}
	s.genesis = g.Encode()
	dir := cfg.Dir
	if dir == "" {
		return nil, fmt.Errorf("chaos: Config.Dir is required")
	}
	for _, n := range s.nodes {
		n.path = filepath.Join(dir, n.name+".db")
		os.Remove(n.path)
		if err := s.start(n); err != nil {
			return nil, err
		}
	}
	s.genesisID = s.nodes[0].rep.Genesis()
	return s, nil
}

// start opens a node's store and rebuilds its replica from it.
func (s *sim) start(n *node) error {
	if n.dataKey == nil {
		n.dataKey = n.signer
	}
	// The first key: the replica follows its name through rotations (crdt SetSelf).
	rep, err := crdt.NewReplica(crdt.Config{Genesis: s.genesis, Self: n.dataKey.Public(), Verified: s.verified,
		Archive: func(id crdt.Hash) (*crdt.Envelope, bool) { return archived(n, id) }, CompactEvery: 8})
	if err != nil {
		return err
	}
	key, err := store.DeriveDataKey(n.dataKey.PrivateKey().Seed(), rep.Genesis())
	if err != nil {
		return err
	}
	st, err := store.Open(n.path, store.Options{NoSync: true, Key: key})
	if err != nil {
		return err
	}
	n.st = st // the archive of the replica's skeletons, already while it restores
	err = st.LoadLive(func(rec store.Record) error {
		if rec.Skeleton {
			return rep.RestoreSkeleton(rec.Data)
		}
		return rep.Restore(rec.Data)
	})
	if err == nil {
		err = putSkeletons(st, rep)
	}
	if err != nil {
		n.st = nil
		st.Close()
		return fmt.Errorf("chaos: %s: restart: %w", n.name, err)
	}
	n.rep, n.st = rep, st
	if n.signer != n.dataKey {
		rep.SetSelf(n.signer.Public())
	}
	n.core = core.New(core.Config{Self: n.name, Replica: rep, Rand: rand.New(rand.NewPCG(s.rng.Uint64(), uint64(n.idx))),
		Fanout: s.cfg.Fanout, Sync: simSync, Budget: simBudget})
	s.meet(n)
	return s.restoreSoft(n)
}

// putSkeletons stores the skeletons the replica made beside their changes, as a site
// does (site/ack.go), so that a restart restores them in their place.
func putSkeletons(st *store.Store, rep *crdt.Replica) error {
	var rows []store.Skeleton
	for _, sk := range rep.TakeSkeletons() {
		rows = append(rows, store.Skeleton{ID: sk.ID, Data: sk.Data})
	}
	return st.PutSkeletons(rows)
}

// archived reads a change back from the node's store for its replica, which keeps the
// changes it compacted as skeletons (crdt/compact.go), as a site does.
func archived(n *node, id crdt.Hash) (*crdt.Envelope, bool) {
	if n.st == nil {
		return nil, false
	}
	data, ok, err := n.st.Get(id)
	if err != nil || !ok {
		return nil, false
	}
	env, err := crdt.DecodeEnvelope(data)
	return env, err == nil && env.ID == id
}

// crash drops everything the node holds in memory; only its store (and its soft rows,
// soft.go) survives.
func (s *sim) crash(n *node) {
	s.crashSoft(n)
	n.st.Close()
	n.core, n.rep, n.st = nil, nil, nil
	clear(n.sessions)
	clear(n.started)
	n.outgoing = 0
	n.soft.crash()
}

// persist stores what a replica accepted. A change is acknowledged once this returns.
func (s *sim) persist(n *node, res crdt.Result) {
	// A change may move soft records (a workload removed, a charter changed).
	defer s.persistSoft(n)
	if len(res.Stored) == 0 {
		s.rejected += len(res.Rejected)
		return
	}
	recs := make([]store.Record, 0, len(res.Stored))
	for _, env := range res.Stored {
		recs = append(recs, store.Record{ID: env.ID, Data: env.Encode()})
	}
	// Save, as the site does: a change stored header-only and then with its bodies in
	// one Result is stored with them (Append would keep the first).
	if _, err := n.st.Save(recs); err != nil || putSkeletons(n.st, n.rep) != nil {
		panic(fmt.Sprintf("chaos: %s: store: %v", n.name, err))
	}
	s.rejected += len(res.Rejected)
	if !n.byz {
		for _, env := range res.Stored {
			s.stored[env.ID] = true
		}
	}
}

// push sends new changes to fanout random peers: the eager half of dissemination.
func (s *sim) push(n *node, envs []*crdt.Envelope) {
	for _, env := range envs {
		for _, p := range s.peers(n, s.cfg.Fanout) {
			b, ok := n.rep.EnvelopeFor(env.ID, s.nodes[p].signer.Public())
			if ok {
				s.net.send(message{from: n.idx, to: p, kind: msgPush, data: b}, s.tick)
			}
		}
	}
}

// peers returns k distinct random peers of n.
func (s *sim) peers(n *node, k int) []int {
	out := make([]int, 0, k)
	for _, p := range s.rng.Perm(len(s.nodes)) {
		if p != n.idx && len(out) < k {
			out = append(out, p)
		}
	}
	return out
}

func (s *sim) correct() []*node {
	var out []*node
	for _, n := range s.nodes {
		if !n.byz {
			out = append(out, n)
		}
	}
	return out
}

// deliver hands one message to its destination's core.
func (s *sim) deliver(m message) {
	n := s.nodes[m.to]
	if n.rep == nil {
		return
	}
	if !n.byz {
		defer s.follow(n)
	}
	from := s.nodes[m.from]
	switch m.kind {
	case msgPush:
		n.core.Receive(from.name, [][]byte{m.data}, s.now())
		s.ready(n) // relays forward what is new to them
	case msgSyncReq:
		sess, ok := n.sessions[m.sid]
		if !ok {
			var err error
			if sess, err = n.core.Respond(from.name, from.signer.Public()); err != nil {
				return // too many sessions from that peer: it times out
			}
			n.sessions[m.sid] = sess
			n.started[m.sid] = s.tick
		}
		s.step(n, sess, m, msgSyncResp)
	case msgSyncResp:
		if sess, ok := n.sessions[m.sid]; ok {
			s.step(n, sess, m, msgSyncReq)
		}
	case msgHint:
		if n.core.Admit(from.name, len(m.data), s.now()) {
			if _, err := n.core.Hint(from.name, m.data, s.now()); err != nil && !from.byz {
				panic(fmt.Sprintf("chaos: %s: a correct node's hint refused: %v", n.name, err))
			}
			s.ready(n)
		}
	case msgSoftPush:
		s.receiveSoft(n, m)
	case msgSoftReq, msgSoftResp:
		s.softStep(n, m)
	}
}

// step gives a session message to the node's core, persists what it stored, and only
// then sends the reply, as a site does.
func (s *sim) step(n *node, sess *core.Session, m message, replyKind msgKind) {
	reply, err := n.core.Step(sess, m.data, s.now())
	s.ready(n)
	if err == nil && reply != nil {
		s.net.send(message{from: n.idx, to: m.from, kind: replyKind, sid: m.sid, data: reply}, s.tick)
	}
	if err != nil || sess.Done() {
		if s.healing && m.kind == msgSyncResp && sess.Done() {
			if st := sess.Stats(); st.PayloadRecv+st.PayloadSent > 0 {
				payload := st.PayloadRecv + st.PayloadSent
				s.ratios = append(s.ratios, float64(st.Bytes())/float64(payload))
				if 10*st.Bytes() <= 13*payload+10240 {
					s.withinTarget++
				}
			}
		}
		s.endSession(n, m.sid)
	}
}

// endSession ends a session at n, in its core too.
func (s *sim) endSession(n *node, sid uint64) {
	if sess := n.sessions[sid]; sess != nil && n.core != nil {
		n.core.End(sess, sess.Done())
	}
	delete(n.sessions, sid)
	delete(n.started, sid)
	if n.outgoing == sid {
		n.outgoing = 0
	}
}

// startSync begins an anti-entropy session from n to peer: one n's core said was due,
// or (chosen) one the simulation picked.
func (s *sim) startSync(n *node, peer int, chosen bool) {
	if !n.byz {
		s.follow(n)
	}
	sess, hello, err := n.core.Initiate(s.nodes[peer].name)
	if err != nil {
		return
	}
	s.nextSID++
	sid := s.nextSID
	n.sessions[sid], n.started[sid] = sess, s.tick
	if chosen {
		n.outgoing = sid
	}
	s.net.send(message{from: n.idx, to: peer, kind: msgSyncReq, sid: sid, data: hello}, s.tick)
}

// expire ends sessions whose messages were lost.
func (s *sim) expire(n *node) {
	var old []uint64
	for sid, t := range n.started {
		if s.tick-t > 10 {
			old = append(old, sid)
		}
	}
	slices.Sort(old)
	for _, sid := range old {
		s.endSession(n, sid)
	}
	s.expireSoft(n)
}
