package crdt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Quotas (docs/adr/0006-quotas.md).
//
// Byte quota, a validity rule: every change an operator writes is charged its encoded
// header size, the bytes every replica stores for ever (nothing is compacted yet). A
// node carries, for each operator, the usage along its causal past merged by maximum:
//
//	used(A, c) = size(c) + max over the changes p of A in the causal past of c of used(A, p)
//
// so concurrent branches of one operator count as the larger one, never as their sum. A
// change by A is invalid when used(A, c) exceeds A's byte quota in the charter of its
// causal past. Both sides are functions of the change and its causal past only.
//
// Admission, a rule of the site that takes an operator's change from a client (Admit):
// the exact usage over everything the replica holds (headers and held bodies) plus the
// change must stay within the quota, and the live workloads of each namespace the change
// writes within the namespace's object quota. Admission is local, so it may differ
// between sites without harm: what one site admits is then valid everywhere.

// Built-in quotas that `atoll keys charter` writes into a new federation's charter. A
// charter without quota fields has no quotas (see the ADR: upgrades).
const (
	DefaultQuotaBytes   = 256 << 20 // bytes of change headers one operator may store
	DefaultQuotaObjects = 10_000    // live workloads in one namespace

	maxQuota = 1 << 47 // largest quota value a charter accepts: 128 TiB
)

// quotas are a charter's quota fields.
type quotas struct {
	bytes     uint64         // quota/bytes: every operator's byte quota; 0 if unset
	objects   int            // quota/objects: live workloads per namespace; 0 if unset
	namespace map[string]int // quota/objects/<ns>
}

// QuotaBytes returns the byte quota of the operator with key k, and whether it has one.
func (c *Charter) QuotaBytes(k PubKey) (uint64, bool) {
	o, ok := c.Operators[k]
	switch {
	case !ok:
		return 0, false
	case o.QuotaBytes > 0:
		return o.QuotaBytes, true
	}
	return c.quota.bytes, c.quota.bytes > 0
}

// QuotaObjects returns the largest number of live workloads namespace ns may hold, and
// whether there is such a limit.
func (c *Charter) QuotaObjects(ns string) (int, bool) {
	if n, ok := c.quota.namespace[ns]; ok {
		return n, true
	}
	return c.quota.objects, c.quota.objects > 0
}

// parseQuotas reads the quota fields of the charter object into c; the operators must
// already be known.
func (c *Charter) parseQuotas() {
	num := func(name string) uint64 {
		if r, ok := c.obj.get(name); ok {
			n, _ := strconv.ParseUint(string(r.val), 10, 64)
			return n
		}
		return 0
	}
	c.quota.bytes = num("quota/bytes")
	c.quota.objects = int(num("quota/objects"))
	for _, f := range c.obj.fields {
		if ns, ok := strings.CutPrefix(f.name, "quota/objects/"); ok && f.reg.flags&regTomb == 0 {
			if c.quota.namespace == nil {
				c.quota.namespace = map[string]int{}
			}
			c.quota.namespace[ns] = int(num(f.name))
		}
	}
	for _, o := range c.Operators {
		o.QuotaBytes = num("operator/" + o.Name + "/quota/bytes")
	}
}

// checkQuotaField validates the charter's quota fields:
//
//	quota/bytes                   byte quota of every operator (decimal)
//	quota/objects                 live workloads a namespace may hold (decimal)
//	quota/objects/<namespace>     the same for one namespace
//	operator/<name>/quota/bytes   byte quota of one operator
//
// It reports false when the field is not a quota field.
func checkQuotaField(op *Op, parts []string) (bool, error) {
	switch {
	case len(parts) == 2 && parts[0] == "quota" && (parts[1] == "bytes" || parts[1] == "objects"):
	case len(parts) == 3 && parts[0] == "quota" && parts[1] == "objects" && IsDNSLabel(parts[2]):
	case len(parts) == 4 && parts[0] == "operator" && IsDNSLabel(parts[1]) && parts[2] == "quota" && parts[3] == "bytes":
	default:
		return false, nil
	}
	if op.Type != OpSet {
		return true, nil
	}
	v := string(op.Value)
	if n, err := strconv.ParseUint(v, 10, 64); err != nil || n < 1 || n > maxQuota || strconv.FormatUint(n, 10) != v {
		return true, fmt.Errorf("charter: %s: %q is not a number from 1 to %d", op.Field, v, uint64(maxQuota))
	}
	return true, nil
}

// Quota describes quotas to write in a charter (CharterSpec.Quota); zero fields are not written.
type Quota struct {
	Bytes      uint64         // byte quota of every operator
	Objects    int            // live workloads per namespace
	Namespaces map[string]int // live workloads of particular namespaces
}

// DefaultQuota is what a new federation's charter gets unless its file says otherwise.
func DefaultQuota() Quota { return Quota{Bytes: DefaultQuotaBytes, Objects: DefaultQuotaObjects} }

func (q Quota) ops() []Op {
	var ops []Op
	set := func(field string, n uint64) {
		ops = append(ops, Op{Type: OpSet, Kind: KindCharter, Field: field, Value: strconv.AppendUint(nil, n, 10)})
	}
	if q.Bytes > 0 {
		set("quota/bytes", q.Bytes)
	}
	if q.Objects > 0 {
		set("quota/objects", uint64(q.Objects))
	}
	for _, ns := range sortedKeys(q.Namespaces) {
		set("quota/objects/"+ns, uint64(q.Namespaces[ns]))
	}
	return ops
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// --- Usage along the causal past ---------------------------------------------------------

// usage is, for each operator that has written in a node's causal past, the bytes it has
// used there (the max-merge above). It is immutable and shared: a node whose change is
// not an operator's and whose dependencies agree points at its dependency's usage.
//
// It is an array indexed by a replica-local operator index (Replica.opIndex), cut into
// chunks of 16 counters that versions share: an operator's change copies the chunk
// pointers and one chunk, O(k/16 + 16) words for k operators; a merge shares every chunk
// where one side dominates. A nil chunk, or one past the end, is all zeros.
type usage struct {
	c []*usageChunk
}

const usageChunkLen = 8 // 64-byte chunks: a change copies the chunk of its author

type usageChunk [usageChunkLen]uint64

var zeroChunk usageChunk

func (u *usage) chunk(i int) *usageChunk {
	if u == nil || i >= len(u.c) || u.c[i] == nil {
		return &zeroChunk
	}
	return u.c[i]
}

func (u *usage) get(idx int) uint64 { return u.chunk(idx / usageChunkLen)[idx%usageChunkLen] }

// maxUsage returns the per-operator maximum of a and b: a or b itself when it dominates,
// otherwise a new usage sharing every chunk where one side dominates.
func maxUsage(a, b *usage) *usage {
	switch {
	case a == b || b == nil:
		return a
	case a == nil:
		return b
	}
	n := max(len(a.c), len(b.c))
	aDom, bDom := true, true // a >= b everywhere; b >= a everywhere
	for i := 0; i < n && (aDom || bDom); i++ {
		x, y := a.chunk(i), b.chunk(i)
		if x == y {
			continue
		}
		for j := range x {
			aDom = aDom && x[j] >= y[j]
			bDom = bDom && y[j] >= x[j]
		}
	}
	switch {
	case aDom:
		return a
	case bDom:
		return b
	}
	out := make([]*usageChunk, n)
	for i := range out {
		x, y := a.chunk(i), b.chunk(i)
		if x == y {
			out[i] = x
			continue
		}
		xDom, yDom := true, true
		for j := range x {
			xDom = xDom && x[j] >= y[j]
			yDom = yDom && y[j] >= x[j]
		}
		switch {
		case xDom:
			out[i] = x
		case yDom:
			out[i] = y
		default:
			m := new(usageChunk)
			for j := range m {
				m[j] = max(x[j], y[j])
			}
			out[i] = m
		}
	}
	return &usage{c: out}
}

// with returns u with operator idx's usage set to n.
func (u *usage) with(idx int, n uint64) *usage {
	ci := idx / usageChunkLen
	var c []*usageChunk
	if u != nil {
		c = u.c
	}
	out := make([]*usageChunk, max(len(c), ci+1))
	copy(out, c)
	m := *u.chunk(ci)
	m[idx%usageChunkLen] = n
	out[ci] = &m
	return &usage{c: out}
}

// opIndex returns the replica-local index of operator k, assigning the next one.
func (r *Replica) opIndex(k PubKey) int {
	i, ok := r.opIdx[k]
	if !ok {
		if r.opIdx == nil {
			r.opIdx = map[PubKey]int{}
		}
		i = len(r.opIdx)
		r.opIdx[k] = i
	}
	return i
}

// quotaUsage returns the usage of a change's node, and an error tagged ReasonQuota if the
// change takes its author past its byte quota in ch, the charter of its causal past.
func (r *Replica) quotaUsage(c *Change, headerBytes int, deps []*node, ch *Charter) (*usage, error) {
	var u *usage
	for _, d := range deps {
		u = maxUsage(u, d.usage)
	}
	if c.IsCharter() || ch.Operators[c.Author] == nil {
		return u, nil
	}
	idx := r.opIndex(c.Author)
	used := u.get(idx) + uint64(headerBytes)
	if limit, ok := ch.QuotaBytes(c.Author); ok && used > limit {
		return nil, because(ReasonQuota, invalid("operator %s: over quota/bytes: %d bytes used in its causal past with this change of %d bytes, limit %d",
			ch.Operators[c.Author].Name, used, headerBytes, limit))
	}
	return u.with(idx, used), nil
}

// --- Exact usage at this replica, for admission --------------------------------------

// account adds a stored operator change to the replica's exact usage.
func (r *Replica) account(n *node, c *Change, ch *Charter) {
	if c.IsCharter() || ch.Operators[c.Author] == nil {
		return
	}
	if r.used == nil {
		r.used = map[PubKey]uint64{}
	}
	r.used[c.Author] += uint64(len(n.header)) + bodyBytes(n.bodies())
}

// accountBodies adds bodies that arrived after their change's header.
func (r *Replica) accountBodies(c *Change, bodies [][]byte) {
	if _, ok := r.used[c.Author]; ok {
		r.used[c.Author] += bodyBytes(bodies)
	}
}

// unaccountBodies takes away bodies the replica dropped (bodies.go), as accountBodies
// added them.
func (r *Replica) unaccountBodies(c *Change, bodies [][]byte) {
	used, ok := r.used[c.Author]
	if !ok {
		return
	}
	n := bodyBytes(bodies)
	if n > used {
		panic(fmt.Sprintf("crdt: dropping %d bytes of bodies by %s, which has %d bytes counted", n, c.Author, used))
	}
	r.used[c.Author] = used - n
}

func bodyBytes(bodies [][]byte) uint64 {
	var n uint64
	for _, b := range bodies {
		n += uint64(len(b))
	}
	return n
}

// Used returns the bytes of the changes by operator k this replica holds: headers, and
// the bodies it holds.
func (r *Replica) Used(k PubKey) uint64 { return r.used[k] }

// Admit decides whether a site takes an operator's change from a client (atoll apply,
// POST /v1/changes), before it receives it. Under the current charter, the author's
// exact usage at this replica plus the change (header and bodies) must fit its byte
// quota, and every namespace the change writes must stay within its object quota. A
// change by anyone but an operator, or one already held, is admitted. An error names
// the quota, the usage and the limit; RejectReason gives ReasonQuota. Admission does not
// remember anything: the change may be admitted later, at this site or another.
func (r *Replica) Admit(env *Envelope) error {
	c := env.Change
	if err := r.admitRevoked(c); err != nil {
		return err
	}
	o := r.charter.Operators[c.Author]
	if o == nil || c.IsCharter() || r.Has(env.ID) {
		return nil
	}
	if limit, ok := r.charter.QuotaBytes(c.Author); ok {
		if !r.depsPresent(c) {
			// A change waiting for dependencies would be stored later without being counted here.
			return because(ReasonQuota, fmt.Errorf("operator %s is under a byte quota and the change depends on changes this site does not hold: submit it where they are", o.Name))
		}
		size := uint64(len(env.Header)) + bodyBytes(env.Bodies)
		if used := r.used[c.Author] + size; used > limit {
			return because(ReasonQuota, fmt.Errorf("operator %s: over quota/bytes: %d bytes used at this site with this change of %d bytes, limit %d",
				o.Name, used, size, limit))
		}
	}
	return r.admitObjects(c)
}

// admitObjects checks that every namespace c writes stays within its object quota: the
// workloads live now, plus those c makes live, minus those it removes.
func (r *Replica) admitObjects(c *Change) error {
	delta := map[string]int{}
	seen := map[string]bool{}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Kind != KindWorkload || seen[op.Key] {
			continue
		}
		o := r.state.objs[objKey{KindWorkload, op.Key}]
		live := o != nil && o.live()
		ns, _, _ := strings.Cut(op.Key, "/")
		switch {
		case op.Type == OpRemove && live:
			seen[op.Key] = true
			delta[ns]--
		case (op.Type == OpSet || op.Type == OpSeal) && !live:
			seen[op.Key] = true
			delta[ns]++
		}
	}
	for _, ns := range sortedKeys(delta) {
		limit, ok := r.charter.QuotaObjects(ns)
		if !ok || delta[ns] <= 0 {
			continue
		}
		live := r.state.liveNS[ns]
		if live+delta[ns] > limit {
			return because(ReasonQuota, fmt.Errorf("namespace %s: over quota/objects: %d live workloads with this change, limit %d", ns, live+delta[ns], limit))
		}
	}
	return nil
}

// countWorkload keeps the count of live workloads per namespace as a workload op changes
// whether its object is live.
func (s *State) countWorkload(key string, was, is bool) {
	if was == is {
		return
	}
	ns, _, _ := strings.Cut(key, "/")
	if s.liveNS == nil {
		s.liveNS = map[string]int{}
	}
	if is {
		s.liveNS[ns]++
	} else if s.liveNS[ns]--; s.liveNS[ns] == 0 {
		delete(s.liveNS, ns)
	}
}
