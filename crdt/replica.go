package crdt

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Config configures a Replica.
type Config struct {
	// Genesis is the encoded envelope of the federation's first charter change; its id names the federation.
	Genesis []byte
	// Self is this replica's identity. Its jurisdiction in the charter decides which sealed bodies it keeps.
	Self PubKey
	// MaxPending bounds the changes waiting for dependencies (count). Default 10,000.
	MaxPending int
	// MaxPendingBytes bounds them in bytes. Default 64 MiB.
	MaxPendingBytes int
	// MaxRejected bounds the remembered ids of rejected changes. Default 10,000.
	MaxRejected int
	// Verified, if set, remembers ids whose signatures checked out. A change id hashes the
	// whole header, signatures included, so replicas in one process (the simulator) may
	// share one and verify each change once.
	Verified VerifiedSet
	// BodySent, if set, is called whenever the replica hands a peer a change with its
	// sealed bodies (EnvelopeFor, sync sessions: bodies.go), for the residency audit. It
	// must not call back into the replica.
	BodySent func(id Hash, peer PubKey, bound []string)
	// Archive, if set, returns a change the replica stored, as it stored it, from the
	// caller's data file. With it the replica keeps shadowed changes as skeletons
	// (compact.go) and reads them back when a peer asks for one.
	Archive func(id Hash) (*Envelope, bool)
	// CompactEvery is how many changes must become stable between two compaction
	// sweeps, at least (compact.go). Default 256.
	CompactEvery int
}

// VerifiedSet is a set of change ids whose signatures are known to be good.
type VerifiedSet interface {
	Has(id Hash) bool
	Add(id Hash)
}

// DefaultConfig returns the defaults for the limits.
func DefaultConfig() Config {
	return Config{MaxPending: 10_000, MaxPendingBytes: 64 << 20, MaxRejected: 10_000}
}

// node is a stored, valid change.
type node struct {
	id      Hash
	header  []byte
	lamport uint64
	deps    []*node
	cset    *cset        // the charter changes in its causal past, itself included (revoke.go)
	seq     int32        // position in Replica.order
	size    uint32       // of its header, kept for a skeleton (skeleton.go)
	bodySz  uint32       // of its bodies held, likewise
	sp      *sealedPart  // a change that seals bodies: its bound and the bodies held; nil if none
	usage   *usage       // operators' byte usage along the causal past, this change included (quota.go)
	masked  bool         // void: its operations are not in the state (revoke.go)
	skel    bool         // a skeleton: header cut to its author, no bodies (compact.go)
	filed   bool         // a skeleton whose bodies the archive holds
	cn      *charterNode // charter changes only
}

// sealedPart is what a node keeps of a change that seals bodies (most seal none).
type sealedPart struct {
	bound  []string // jurisdictions allowed the bodies
	bodies [][]byte // held, or nil
}

// bound returns the jurisdictions allowed the change's bodies; nil if it seals none.
func (n *node) bound() []string {
	if n.sp == nil {
		return nil
	}
	return n.sp.bound
}

// bodies returns the bodies of the change held; nil if none.
func (n *node) bodies() [][]byte {
	if n.sp == nil {
		return nil
	}
	return n.sp.bodies
}

// setBodies holds a bounded change's bodies (nil: none).
func (n *node) setBodies(b [][]byte) {
	if n.sp != nil {
		n.sp.bodies = b
	}
}

// charterNode is what a charter change keeps besides a node.
type charterNode struct {
	ch        *Change
	pre       *cset    // the charter changes it builds on
	revAdmins []PubKey // admin keys it revokes
	revOthers []PubKey // site, operator and observer keys it revokes
}

// author returns the change's author: the header's bytes after the format version.
func (n *node) author() PubKey {
	var k PubKey
	copy(k[:], n.header[1:33])
	return k
}

// Replica is one correct replica of the federation state: the DAG of valid changes, the
// buffer of changes waiting for dependencies, and the materialized state. It does no I/O:
// callers persist Result.Stored and send what Sync* returns.
type Replica struct {
	cfg      Config
	nodes    map[Hash]*node
	order    []*node // every node, in a causal order (dependencies first)
	heads    map[Hash]*node
	state    *State
	charter  *Charter // of the whole state
	pending  *pending
	rejected map[Hash]error
	rejFIFO  []Hash
	beyond   map[Hash]error // changes held unjudged (ErrBeyond), bounded like rejected
	beyFIFO  []Hash
	csets    map[Hash]*cset    // charter sets by key (revoke.go)
	unions   map[[2]Hash]*cset // unions of two charter sets, by their keys
	merges   map[Hash]*Charter // charters of charter sets with some changes void (revoke.go)
	peers    *Charter          // PeerCharter when the charter has concurrent branches (peers.go)
	pasts    map[*node]map[*node]bool
	all      *cset // every charter change held
	effView  *charterView
	eff      map[*cset]effEntry // charters of causal pasts under effView (mask.go)
	masked   int                // changes held that are void
	selfName string             // the site name the charter last gave Self
	lacking  map[Hash]*node     // changes whose bodies this replica may hold but has not
	genesis  Hash
	soft     *softState // soft records held (softstate.go)
	stab     *stability // which changes every site acknowledged (stable.go)
	shadow   *shadows   // the latest ops of stable void changes (shadow.go)
	// needRebuild: a change became stable in a way that changes the state (shadow.go)
	needRebuild bool
	skeletons   int               // changes held as skeletons (compact.go)
	skelDirty   []*node           // skeletons made or changed since TakeSkeletons (skeleton.go)
	charters    []*node           // the charter changes, in causal order (genesis first)
	used        map[PubKey]uint64 // operators' bytes held here, for Admit (quota.go)
	opIdx       map[PubKey]int    // operators' indexes in usage vectors (quota.go)
	dropped     []*Envelope       // changes whose bodies a charter change dropped, for the next Result (bodies.go)
}

// Rejection says why a change was refused.
type Rejection struct {
	ID  Hash // zero when the bytes did not decode
	Err error
}

// Result is what one Receive did.
type Result struct {
	// Stored are changes to persist, in causal order: new valid changes, and known changes
	// whose bodies just arrived (persist them again, replacing the header-only record) or
	// were dropped by a charter change that took this replica out of their bound (header
	// only, replacing the record with bodies). An id may appear twice: the later wins.
	Stored   []*Envelope
	Rejected []Rejection
	// Buffered counts envelopes that now wait for missing dependencies.
	Buffered int
	// Unbuffered counts envelopes whose dependencies are missing and whose author or a
	// cosigner has no role in the replica's current charter: they are neither buffered
	// nor remembered as rejected, since a charter change not yet here may admit the key,
	// and anti-entropy then brings them again in causal order.
	Unbuffered int
	// Duplicate counts envelopes already known.
	Duplicate int
	// Beyond counts changes held unjudged: they use what this release does not know,
	// under a charter whose format level is beyond it (ErrBeyond, format.go).
	Beyond int
}

func (r *Result) add(o Result) {
	r.Stored = append(r.Stored, o.Stored...)
	r.Rejected = append(r.Rejected, o.Rejected...)
	r.Buffered += o.Buffered
	r.Unbuffered += o.Unbuffered
	r.Duplicate += o.Duplicate
	r.Beyond += o.Beyond
}

// NewReplica starts a replica holding only the genesis charter change.
func NewReplica(cfg Config) (*Replica, error) {
	def := DefaultConfig()
	if cfg.MaxPending == 0 {
		cfg.MaxPending = def.MaxPending
	}
	if cfg.MaxPendingBytes == 0 {
		cfg.MaxPendingBytes = def.MaxPendingBytes
	}
	if cfg.MaxRejected == 0 {
		cfg.MaxRejected = def.MaxRejected
	}
	env, err := DecodeEnvelope(cfg.Genesis)
	if err != nil {
		return nil, fmt.Errorf("crdt: genesis: %w", err)
	}
	r := &Replica{
		cfg:      cfg,
		nodes:    map[Hash]*node{},
		heads:    map[Hash]*node{},
		state:    newState(),
		pending:  newPending(cfg.MaxPending, cfg.MaxPendingBytes),
		rejected: map[Hash]error{},
		beyond:   map[Hash]error{},
		csets:    map[Hash]*cset{},
		unions:   map[[2]Hash]*cset{},
		merges:   map[Hash]*Charter{},
		pasts:    map[*node]map[*node]bool{},
		lacking:  map[Hash]*node{},
		genesis:  env.ID,
		soft:     newSoftState(),
		stab:     newStability(),
		shadow:   newShadows(),
	}
	if err := r.acceptGenesis(env); err != nil {
		return nil, fmt.Errorf("crdt: genesis: %w", err)
	}
	return r, nil
}

func (r *Replica) acceptGenesis(env *Envelope) error {
	c := env.Change
	if len(c.Deps) != 0 || c.Lamport != 1 || !c.IsCharter() {
		return invalid("the genesis must be a charter change at Lamport time 1 without dependencies")
	}
	need, unknown, err := checkStructure(c)
	if err != nil {
		return err
	}
	if err := verifySignatures(c, env.Header); err != nil {
		return invalid("%v", err)
	}
	empty := newCharter(&object{})
	after := empty.withChange(c, &env.ID)
	// A new federation may start at any level its genesis sets.
	if err := checkLevel(need, unknown, after); err != nil {
		return err
	}
	// The genesis is signed by the admins it names, as many as the threshold it sets.
	if err := checkAdmins(c, after); err != nil {
		return err
	}
	if err := checkUsable(after); err != nil {
		return err
	}
	r.store(env, nil, nil, after)
	return nil
}

// Genesis returns the id of the genesis change, which names the federation.
func (r *Replica) Genesis() Hash { return r.genesis }

// Receive decodes one envelope from a peer (or a local client) and applies it.
func (r *Replica) Receive(raw []byte) Result {
	env, err := DecodeEnvelope(raw)
	if err != nil {
		return Result{Rejected: []Rejection{{Err: err}}}
	}
	return r.ReceiveEnvelope(env)
}

// ReceiveEnvelope applies a decoded envelope: a new valid change is stored and may
// release changes that waited for it; an invalid one is rejected with its reason.
func (r *Replica) ReceiveEnvelope(env *Envelope) Result {
	return r.receive(env, true)
}

// Restore loads a change from this replica's own store. The store holds only changes that
// were valid when stored, so signatures are not checked again; every other rule is.
func (r *Replica) Restore(raw []byte) error {
	env, err := DecodeEnvelope(raw)
	if err != nil {
		return err
	}
	res := r.receive(env, false)
	if len(res.Rejected) > 0 {
		return res.Rejected[0].Err
	}
	if res.Buffered > 0 {
		return fmt.Errorf("crdt: change %s restored before its dependencies", env.ID)
	}
	return nil
}

func (r *Replica) receive(env *Envelope, verify bool) Result {
	if n, ok := r.nodes[env.ID]; ok {
		return r.fillBodies(n, env)
	}
	if err, ok := r.rejected[env.ID]; ok {
		return Result{Rejected: []Rejection{{env.ID, err}}}
	}
	if _, ok := r.beyond[env.ID]; ok {
		return Result{Beyond: 1}
	}
	if old, ok := r.pending.byID[env.ID]; ok {
		if len(old.Bodies) == 0 && len(env.Bodies) > 0 {
			r.pending.attach(old, env.Bodies)
		}
		return Result{Duplicate: 1}
	}
	c := env.Change
	if len(c.Deps) == 0 {
		return r.reject(env.ID, because(ReasonDependency, invalid("a second change without dependencies (the genesis is %s)", r.genesis)))
	}
	if _, _, err := checkStructure(c); err != nil {
		return r.reject(env.ID, because(ReasonStructure, err))
	}
	if verify && (r.cfg.Verified == nil || !r.cfg.Verified.Has(env.ID)) {
		if err := verifySignatures(c, env.Header); err != nil {
			return r.reject(env.ID, because(ReasonSignature, invalid("%v", err)))
		}
		if r.cfg.Verified != nil {
			r.cfg.Verified.Add(env.ID)
		}
	}
	var missing []Hash
	for _, d := range c.Deps {
		if err, ok := r.rejected[d]; ok {
			return r.reject(env.ID, because(ReasonDependency, invalid("depends on rejected change %s (%v)", d, err)))
		}
		if _, ok := r.nodes[d]; !ok {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		if !r.signersKnown(c) {
			return Result{Unbuffered: 1}
		}
		if r.pending.add(env, missing) {
			return Result{Buffered: 1}
		}
		return Result{}
	}
	var res Result
	queue := []*Envelope{env}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if _, ok := r.nodes[e.ID]; ok {
			continue
		}
		if err := r.accept(e, !verify); err != nil {
			if errors.Is(err, ErrBeyond) {
				res.Beyond++
				r.holdBeyond(e.ID, err)
				continue
			}
			res.add(r.reject(e.ID, err))
			continue
		}
		res.Stored = append(res.Stored, r.withheld(e))
		res.Stored = append(res.Stored, r.takeDropped()...)
		for _, w := range r.pending.release(e.ID) {
			if r.depsPresent(w.Change) {
				r.pending.remove(w)
				queue = append(queue, w)
			}
		}
	}
	return res
}

// signersKnown reports whether the author of c may write in the charter of the whole
// state (an admin, a site or an operator: an observer writes nothing) and every cosigner
// is an admin there: only their changes may wait in the pending buffer, so that keys
// outside the federation cannot fill it.
func (r *Replica) signersKnown(c *Change) bool {
	ch := r.charter
	_, admin := ch.Admins[c.Author]
	_, site := ch.Sites[c.Author]
	_, op := ch.Operators[c.Author]
	if !admin && !site && !op {
		return false
	}
	for _, cs := range c.Cosigs {
		if _, ok := ch.Admins[cs.Key]; !ok {
			return false
		}
	}
	return true
}

func (r *Replica) depsPresent(c *Change) bool {
	for _, d := range c.Deps {
		if _, ok := r.nodes[d]; !ok {
			return false
		}
	}
	return true
}

// accept checks the rules that need the causal past and stores the change. On replay
// of the replica's own store, the charter's bounds on values are not checked again: a
// change stored by an earlier release, before they existed, is kept (see checkLimits).
func (r *Replica) accept(env *Envelope, replay bool) error {
	c := env.Change
	deps := make([]*node, len(c.Deps))
	var maxLamport uint64
	for i, d := range c.Deps {
		deps[i] = r.nodes[d]
		maxLamport = max(maxLamport, deps[i].lamport)
	}
	if c.Lamport != maxLamport+1 {
		return because(ReasonStructure, invalid("lamport time %d, want %d (one more than its dependencies')", c.Lamport, maxLamport+1))
	}
	pre := r.csetOf(deps)
	view := r.viewOf(pre)
	ch := view.charter
	need, unknown, _ := checkStructure(c)
	if err := checkLevel(need, unknown, ch); err != nil {
		if errors.Is(err, ErrBeyond) {
			return err
		}
		return because(ReasonStructure, err)
	}
	if err := checkDead(c, view, r); err != nil {
		return because(ReasonAuthority, err)
	}
	if err := checkAuthority(c, ch); err != nil {
		return because(ReasonAuthority, err)
	}
	if !replay {
		if err := checkLimits(c, ch); err != nil {
			return err
		}
	}
	after := ch
	if c.IsCharter() {
		after = ch.withChange(c, &env.ID)
		if err := checkUsable(after); err != nil {
			return because(ReasonAuthority, err)
		}
		if err := checkFormatRaise(ch, after); err != nil {
			return because(ReasonStructure, err)
		}
	}
	u, err := r.quotaUsage(c, len(env.Header), deps, ch)
	if err != nil {
		return err
	}
	r.store(env, deps, pre, after)
	n := r.nodes[env.ID]
	n.usage = u
	r.account(n, c, ch)
	return nil
}

// store adds a valid change. pre is the set of charter changes it builds on (nil for the
// genesis) and after the charter for changes that depend on it.
func (r *Replica) store(env *Envelope, deps []*node, pre *cset, after *Charter) {
	defer r.maybeCompact()
	defer r.rebuildIfShadowed()
	c := env.Change
	n := &node{id: env.ID, header: env.Header, lamport: c.Lamport, deps: deps, seq: int32(len(r.order)), size: uint32(len(env.Header))}
	if len(c.Bound) > 0 {
		n.sp = &sealedPart{bound: c.Bound}
		if r.inside(c.Bound) {
			n.setBodies(env.Bodies)
			if n.bodies() == nil {
				r.lacking[n.id] = n
			}
		}
	}
	n.cset = pre
	if c.IsCharter() {
		n.cn = &charterNode{ch: c, pre: pre}
		var nodes []*node
		if pre != nil {
			n.cn.revAdmins, n.cn.revOthers = revocations(r.viewOf(pre).charter, after)
			nodes = pre.nodes
		}
		n.cset = r.intern(append(slices.Clip(nodes), n))
		if !n.cset.revokes && n.cset.view == nil {
			n.cset.view = &charterView{charter: after}
		}
	}
	r.nodes[n.id] = n
	r.order = append(r.order, n)
	for _, d := range deps {
		delete(r.heads, d.id)
	}
	r.heads[n.id] = n
	defer r.acknowledge(n) // once its effect (or its being void) is decided
	if !c.IsCharter() {
		if r.all.revokes && r.voidNew(n, c) {
			n.masked = true
			r.masked++
			return
		}
		r.state.applyChange(c, &n.id)
		r.followState(false)
		return
	}
	r.charters = append(r.charters, n)
	if r.all == nil {
		r.all = n.cset
	} else {
		r.all = r.intern(append(slices.Clip(r.all.nodes), n))
	}
	if r.all.revokes {
		r.remask()
	} else {
		r.state.applyChange(c, &n.id)
	}
	r.charter = newCharter(r.state.objs[objKey{kind: KindCharter}])
	r.refreshPeers()
	r.noteSelf()
	r.recheckBodies()
	r.dropOutside()
	r.followState(true)
}

// rebuildIfShadowed rebuilds the state when a change that became stable shadows an op
// that counted (shadow.go).
func (r *Replica) rebuildIfShadowed() {
	if r.needRebuild {
		r.needRebuild = false
		r.rebuildState()
		r.followState(true)
	}
}

// recheckBodies lists the bodies this replica may hold under a new charter but has not:
// a site admitted after it saw a bounded change asks for the body then.
func (r *Replica) recheckBodies() {
	for _, n := range r.order {
		if n.bound() != nil && n.bodies() == nil && !n.filed && r.inside(n.bound()) {
			r.lacking[n.id] = n
		}
	}
}

// Inside reports whether this replica's jurisdiction, as its charter attests it, is in bound.
func (r *Replica) Inside(bound []string) bool { return r.inside(bound) }

// HoldsBodies reports whether the replica holds change id with the bodies of its sealed
// operations (true for a change that seals nothing).
func (r *Replica) HoldsBodies(id Hash) bool {
	n, ok := r.nodes[id]
	return ok && (n.bound() == nil || n.bodies() != nil || n.filed)
}

// inside reports whether this replica's jurisdiction is in bound.
func (r *Replica) inside(bound []string) bool {
	if r.charter == nil {
		return false
	}
	j := r.charter.Jurisdiction(r.cfg.Self)
	if j == "" && r.selfName != "" {
		// The charter rotated this site's key and the site has not switched yet
		// (SetSelf): it is still the site of that name.
		if info, ok := r.charter.SiteByName(r.selfName); ok {
			j = info.Jurisdiction
		}
	}
	return j != "" && slices.Contains(bound, j)
}

// noteSelf remembers the name the charter gives this replica's key.
func (r *Replica) noteSelf() {
	if info, ok := r.charter.Sites[r.cfg.Self]; ok {
		r.selfName = info.Name
	}
}

// withheld returns env as this replica stores it: bodies dropped when it is outside the bound.
func (r *Replica) withheld(env *Envelope) *Envelope {
	n := r.nodes[env.ID]
	if len(env.Bodies) > 0 && n.bodies() == nil {
		return &Envelope{ID: env.ID, Change: env.Change, Header: env.Header}
	}
	return env
}

func (r *Replica) fillBodies(n *node, env *Envelope) Result {
	if n.bound() == nil || n.bodies() != nil || n.filed || len(env.Bodies) == 0 || !r.inside(n.bound()) {
		return Result{Duplicate: 1}
	}
	if n.skel { // the bodies go to the archive only: their ops are shadowed
		n.filed, n.bodySz = true, uint32(bodyBytes(env.Bodies))
		r.skelDirty = append(r.skelDirty, n)
		delete(r.lacking, n.id)
		r.accountBodies(env.Change, env.Bodies)
		return Result{Stored: []*Envelope{{ID: n.id, Change: env.Change, Header: env.Header, Bodies: env.Bodies}}, Duplicate: 1}
	}
	n.setBodies(env.Bodies)
	delete(r.lacking, n.id)
	r.accountBodies(env.Change, env.Bodies)
	return Result{Stored: []*Envelope{{ID: n.id, Change: env.Change, Header: n.header, Bodies: n.bodies()}}, Duplicate: 1}
}

func (r *Replica) reject(id Hash, err error) Result {
	if id != (Hash{}) {
		if _, ok := r.rejected[id]; !ok {
			r.rejected[id] = err
			r.rejFIFO = append(r.rejFIFO, id)
			for len(r.rejFIFO) > r.cfg.MaxRejected {
				delete(r.rejected, r.rejFIFO[0])
				r.rejFIFO = r.rejFIFO[1:]
			}
		}
	}
	res := Result{Rejected: []Rejection{{id, err}}}
	// Whatever waited for a rejected change can never become valid.
	for _, w := range r.pending.release(id) {
		r.pending.remove(w)
		res.add(r.reject(w.ID, because(ReasonDependency, invalid("depends on rejected change %s (%v)", id, err))))
	}
	return res
}

// holdBeyond remembers a change this release cannot judge (ErrBeyond), so that it is
// neither stored nor rejected when it comes again; what waits for it stays pending.
func (r *Replica) holdBeyond(id Hash, err error) {
	if _, ok := r.beyond[id]; ok {
		return
	}
	r.beyond[id] = err
	r.beyFIFO = append(r.beyFIFO, id)
	for len(r.beyFIFO) > r.cfg.MaxRejected {
		delete(r.beyond, r.beyFIFO[0])
		r.beyFIFO = r.beyFIFO[1:]
	}
}

// Beyond returns how many changes the replica holds unjudged because they need a format
// level beyond this release (ErrBeyond), and the reason for the latest.
func (r *Replica) Beyond() (int, error) {
	if len(r.beyFIFO) == 0 {
		return 0, nil
	}
	return len(r.beyond), r.beyond[r.beyFIFO[len(r.beyFIFO)-1]]
}

// Prepare returns a change on top of the current heads with the right Lamport time, to be
// signed (Sign) and then received. At most MaxDeps heads are taken, the newest first.
func (r *Replica) Prepare(ops []Op, bound []string) *Change {
	heads := r.headNodes()
	if len(heads) > MaxDeps {
		slices.SortFunc(heads, func(a, b *node) int {
			if c := cmp.Compare(b.lamport, a.lamport); c != 0 {
				return c
			}
			return compareHash(&a.id, &b.id)
		})
		heads = heads[:MaxDeps]
	}
	c := &Change{Ops: ops, Bound: slices.Clone(bound)}
	slices.Sort(c.Bound)
	for _, h := range heads {
		c.Deps = append(c.Deps, h.id)
		c.Lamport = max(c.Lamport, h.lamport)
	}
	c.Lamport++
	slices.SortFunc(c.Deps, func(a, b Hash) int { return compareHash(&a, &b) })
	return c
}

// ErrRejected is returned by Write when the replica refuses its own change.
var ErrRejected = errors.New("change rejected")

// Write prepares, signs and applies a local change. bodies are the bodies of the sealed
// ops in order (see SealOp); bound is required when there are any.
func (r *Replica) Write(author *Signer, ops []Op, bodies [][]byte, bound []string, cosigners ...*Signer) (*Envelope, Result, error) {
	c := r.Prepare(ops, bound)
	if len(c.Bound) > 0 && !r.inside(c.Bound) {
		return nil, Result{}, fmt.Errorf("crdt: this replica is outside the bound %v: write bounded workloads at a site inside it", c.Bound)
	}
	env, err := Sign(c, bodies, author, cosigners...)
	if err != nil {
		return nil, Result{}, err
	}
	res := r.ReceiveEnvelope(env)
	if len(res.Rejected) > 0 {
		return env, res, fmt.Errorf("%w: %w", ErrRejected, res.Rejected[0].Err)
	}
	if res.Beyond > 0 {
		_, err := r.Beyond()
		return env, res, err
	}
	return env, res, nil
}

func (r *Replica) headNodes() []*node {
	out := make([]*node, 0, len(r.heads))
	for _, n := range r.heads {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *node) int { return compareHash(&a.id, &b.id) })
	return out
}

// Heads returns the ids of the changes no other stored change depends on, sorted.
func (r *Replica) Heads() []Hash {
	out := make([]Hash, 0, len(r.heads))
	for _, n := range r.headNodes() {
		out = append(out, n.id)
	}
	return out
}

// Digest returns the hash of the materialized state.
func (r *Replica) Digest() Hash { return r.state.Digest() }

// Len returns the number of stored changes.
func (r *Replica) Len() int { return len(r.order) }

// PendingLen returns the number of changes waiting for dependencies.
func (r *Replica) PendingLen() int { return len(r.pending.byID) }

// Missing returns up to n ids that buffered changes depend on and that are not here yet.
func (r *Replica) Missing(n int) []Hash { return r.pending.missing(n) }

// Lacking returns the number of changes whose bodies this replica may hold but has not received.
func (r *Replica) Lacking() int { return len(r.lacking) }

// Has reports whether a valid change is stored.
func (r *Replica) Has(id Hash) bool { _, ok := r.nodes[id]; return ok }

// Charter returns the charter of the whole state.
func (r *Replica) Charter() *Charter { return r.charter }

// Self returns this replica's identity.
func (r *Replica) Self() PubKey { return r.cfg.Self }

// SetSelf changes this replica's identity: a site whose key the charter rotated. Bodies
// it holds are kept; those its new identity may hold and it has not are listed as
// lacking, to be asked for (changes stored between the rotation and SetSelf).
func (r *Replica) SetSelf(k PubKey) {
	r.cfg.Self = k
	r.noteSelf()
	r.recheckBodies()
}

// Envelope returns a stored change as this replica holds it (bodies included if held).
func (r *Replica) Envelope(id Hash) ([]byte, bool) {
	n, ok := r.nodes[id]
	if ok {
		n = r.full(n)
	}
	if n == nil {
		return nil, false
	}
	return n.envelope(n.bodies() != nil), true
}

// EnvelopeFor returns a stored change encoded for peer: the bodies go only to a site whose
// charter jurisdiction is inside the change's bound, audited (release, bodies.go).
func (r *Replica) EnvelopeFor(id Hash, peer PubKey) ([]byte, bool) {
	n, ok := r.nodes[id]
	if !ok {
		return nil, false
	}
	b := r.release(n, peer)
	return b, b != nil
}

func (r *Replica) mayHold(n *node, peer PubKey) bool {
	if n.bodies() == nil {
		return false
	}
	j := r.PeerCharter().Jurisdiction(peer)
	return j != "" && slices.Contains(n.bound(), j)
}

func (n *node) envelope(withBodies bool) []byte {
	e := Envelope{ID: n.id, Header: n.header}
	if withBodies {
		e.Bodies = n.bodies()
	}
	return e.encode(withBodies)
}

// Changes calls fn for every stored change in causal order with its encoding as this
// replica holds it; fn returning false stops.
func (r *Replica) Changes(fn func(id Hash, env []byte) bool) {
	for _, n := range r.order {
		if n = r.full(n); n == nil {
			continue
		}
		if !fn(n.id, n.envelope(n.bodies() != nil)) {
			return
		}
	}
}

// CharterChanges calls fn with each charter change held (header only: charter changes
// seal nothing), in causal order, until it returns false. It walks the charter changes
// only, whatever else the replica holds.
func (r *Replica) CharterChanges(fn func(id Hash, env []byte) bool) {
	for _, n := range r.charters {
		if !fn(n.id, n.envelope(false)) {
			return
		}
	}
}

// Bound returns the jurisdictions of a change's sealed bodies, or nil.
func (r *Replica) Bound(id Hash) []string {
	if n, ok := r.nodes[id]; ok {
		return n.bound()
	}
	return nil
}

// String summarizes the replica for logs and failure messages.
func (r *Replica) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replica{self=%s changes=%d heads=%d pending=%d digest=%s}", r.cfg.Self, len(r.order), len(r.heads), r.PendingLen(), r.Digest())
	return b.String()
}
