package crdt

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Reconciliation between two replicas, as a pure state machine over encoded messages.
//
//	initiator                         responder
//	hello{heads,count,salt,want} ──▶  same heads: changes{final}            (in sync: ~100 bytes)
//	                                  has all our heads: changes{final}     (exact difference, 1 round trip)
//	                             ◀──  symbols{heads,count,first batch}
//	has all their heads: changes{final}                                   (exact, 1 round trip)
//	else decode; more{n} ──▶ symbols ◀── ...  until decoded
//	changes{mine, want keys} ──▶      changes{wanted, final}               (2 round trips when diverged)
//
// Differences are found by a rateless IBLT over 64-bit keys, SHA-256(salt || id) truncated,
// with a fresh salt per session so that a peer cannot grind colliding ids. ADR 0002 has the
// measurements behind the choice.

// SyncStats counts what one session exchanged.
type SyncStats struct {
	Messages      int // messages sent and received
	BytesSent     int
	BytesReceived int
	PayloadSent   int // bytes of change envelopes sent
	PayloadRecv   int // bytes of change envelopes received
	Symbols       int // coded symbols exchanged
}

// Bytes returns the bytes sent both ways.
func (s SyncStats) Bytes() int { return s.BytesSent + s.BytesReceived }

// Session is one side of a reconciliation with one peer.
type Session struct {
	r         *Replica
	peer      PubKey
	initiator bool
	salt      uint64
	done      bool
	stats     SyncStats

	// responder: its set, as coded symbols
	enc   *ribltEncoder
	byKey map[uint64]*node
	// initiator: its set, for subtracting
	dec       *ribltDecoder
	received  int      // symbols received
	limit     int      // symbols the initiator accepts before giving up
	serveLast [][]byte // bodies the responder asked for, sent in the initiator's last message
}

// ErrSync wraps protocol errors: the peer broke the protocol and the session is over.
var ErrSync = errors.New("sync")

const (
	firstBatch      = 32 // coded symbols in the first batch, at least
	maxWantIDs      = 256
	maxFirstSymbols = 16384 // the first batch, whatever the counts suggest
	maxMoreSymbols  = 65536 // one request for more symbols
)

// Initiate starts a session with peer and returns the first message. salt must be fresh
// randomness from the caller (the core has no random source).
func (r *Replica) Initiate(peer PubKey, salt uint64) (*Session, []byte) {
	s := &Session{r: r, peer: peer, initiator: true, salt: salt | 1}
	m := &syncMsg{typ: msgHello, heads: r.Heads(), count: uint64(len(r.order)), salt: s.salt, wantIDs: r.wanted()}
	return s, s.send(m)
}

// Respond returns the responder's side of a session that peer starts.
func (r *Replica) Respond(peer PubKey) *Session { return &Session{r: r, peer: peer} }

// Done reports whether the session is over.
func (s *Session) Done() bool { return s.done }

// Stats returns what the session exchanged so far.
func (s *Session) Stats() SyncStats { return s.stats }

func (s *Session) send(m *syncMsg) []byte {
	b := m.encode()
	s.stats.Messages++
	s.stats.BytesSent += len(b)
	s.stats.Symbols += len(m.symbols)
	for _, c := range m.changes {
		s.stats.PayloadSent += len(c)
	}
	if m.final {
		s.done = true
	}
	return b
}

// Step takes the peer's next message and returns the reply (nil when there is none) and
// what applying the peer's changes did. An error ends the session; nothing invalid was stored.
func (s *Session) Step(in []byte) ([]byte, Result, error) {
	if s.done {
		return nil, Result{}, fmt.Errorf("%w: message after the session ended", ErrSync)
	}
	m, err := decodeSyncMsg(in)
	if err != nil {
		s.done = true
		return nil, Result{}, fmt.Errorf("%w: %w", ErrSync, err)
	}
	s.stats.Messages++
	s.stats.BytesReceived += len(in)
	s.stats.Symbols += len(m.symbols)
	var res Result
	for _, c := range m.changes {
		s.stats.PayloadRecv += len(c)
		res.add(s.r.Receive(c))
	}
	if m.final {
		s.done = true
		return nil, res, nil
	}
	var out *syncMsg
	if s.initiator {
		out, err = s.initiatorStep(m)
	} else {
		out, err = s.responderStep(m)
	}
	if err != nil {
		s.done = true
		return nil, res, fmt.Errorf("%w: %w", ErrSync, err)
	}
	return s.send(out), res, nil
}

func (s *Session) responderStep(m *syncMsg) (*syncMsg, error) {
	r := s.r
	switch m.typ {
	case msgHello:
		if m.salt == 0 {
			return nil, errors.New("hello without salt")
		}
		s.salt = m.salt
		served := r.serve(m.wantIDs, s.peer)
		// Bodies this side lacks are asked for too; the initiator serves them last.
		want := r.wanted()
		if slices.Equal(m.heads, r.Heads()) {
			return &syncMsg{typ: msgChanges, final: len(want) == 0, changes: served, wantIDs: want}, nil
		}
		if r.hasAll(m.heads) {
			return &syncMsg{typ: msgChanges, final: len(want) == 0, wantIDs: want,
				changes: append(served, r.encodeFor(r.missingFrom(m.heads), s.peer)...)}, nil
		}
		keys, byKey := r.keys(s.salt)
		s.enc, s.byKey = newRIBLTEncoder(keys), byKey
		n := firstBatch + 3*absDiff(m.count, uint64(len(keys)))/2
		return &syncMsg{typ: msgSymbols, heads: r.Heads(), count: uint64(len(keys)), start: 0,
			symbols: s.enc.next(min(n, maxFirstSymbols)), changes: served, wantIDs: want}, nil
	case msgMore:
		if s.enc == nil {
			return nil, errors.New("more before hello")
		}
		if s.enc.count > 4*(len(s.enc.keys)+int(m.more))+1024 || m.more > maxMoreSymbols {
			return nil, fmt.Errorf("peer asks for %d more symbols after %d", m.more, s.enc.count)
		}
		start := uint64(s.enc.count)
		return &syncMsg{typ: msgSymbols, start: start, symbols: s.enc.next(int(m.more))}, nil
	case msgChanges:
		if s.byKey == nil {
			return nil, errors.New("changes before symbols")
		}
		var nodes []*node
		for _, k := range m.wantKeys {
			if n, ok := s.byKey[k]; ok {
				nodes = append(nodes, n)
			}
		}
		slices.SortFunc(nodes, func(a, b *node) int { return int(a.seq - b.seq) })
		return &syncMsg{typ: msgChanges, final: true, changes: r.encodeFor(nodes, s.peer)}, nil
	}
	return nil, fmt.Errorf("unexpected %d message from the initiator", m.typ)
}

func (s *Session) initiatorStep(m *syncMsg) (*syncMsg, error) {
	r := s.r
	if len(m.wantIDs) > 0 {
		s.serveLast = r.serve(m.wantIDs, s.peer)
	}
	if m.typ == msgChanges {
		// The responder sent what we lacked and asks for bodies it lacks.
		return &syncMsg{typ: msgChanges, final: true, changes: s.serveLast}, nil
	}
	if m.typ != msgSymbols {
		return nil, fmt.Errorf("unexpected %d message from the responder", m.typ)
	}
	if s.dec == nil {
		if len(m.heads) == 0 {
			return nil, errors.New("first symbols without heads")
		}
		if r.hasAll(m.heads) {
			return &syncMsg{typ: msgChanges, final: true, changes: append(s.serveLast, r.encodeFor(r.missingFrom(m.heads), s.peer)...)}, nil
		}
		keys, byKey := r.keys(s.salt)
		s.dec, s.byKey = newRIBLTDecoder(keys), byKey
		s.limit = 2*(len(keys)+int(min(m.count, maxSyncList))) + 1024
	}
	if m.start != uint64(s.received) {
		return nil, fmt.Errorf("symbols from %d, expected %d", m.start, s.received)
	}
	s.received += len(m.symbols)
	if !s.dec.add(m.symbols) {
		if s.received >= s.limit {
			return nil, fmt.Errorf("difference not decoded after %d symbols", s.received)
		}
		// Doubling: at most one round trip more than a perfect guess, and at most twice the symbols.
		return &syncMsg{typ: msgMore, more: uint64(min(s.received, s.limit-s.received))}, nil
	}
	var mine []*node
	for _, k := range s.dec.mine {
		if n, ok := s.byKey[k]; ok {
			mine = append(mine, n)
		}
	}
	slices.SortFunc(mine, func(a, b *node) int { return int(a.seq - b.seq) })
	want := s.dec.remote
	return &syncMsg{typ: msgChanges, final: len(want) == 0, changes: append(s.serveLast, r.encodeFor(mine, s.peer)...), wantKeys: want}, nil
}

func absDiff(a, b uint64) int {
	if a > b {
		return int(min(a-b, maxSyncList))
	}
	return int(min(b-a, maxSyncList))
}

// keys returns the salted 64-bit key of every stored change.
func (r *Replica) keys(salt uint64) ([]uint64, map[uint64]*node) {
	keys := make([]uint64, len(r.order))
	byKey := make(map[uint64]*node, len(r.order))
	var buf [8 + 32]byte
	binary.LittleEndian.PutUint64(buf[:8], salt)
	for i, n := range r.order {
		copy(buf[8:], n.id[:])
		h := sha256.Sum256(buf[:])
		keys[i] = binary.LittleEndian.Uint64(h[:8])
		byKey[keys[i]] = n
	}
	return keys, byKey
}

func (r *Replica) hasAll(ids []Hash) bool {
	for _, id := range ids {
		if _, ok := r.nodes[id]; !ok {
			return false
		}
	}
	return true
}

// wanted lists the changes whose bodies this replica may hold but has not: heads cannot
// reveal those. (Missing dependencies need no asking: the heads exchange finds them, and
// asking for them would let a flood of junk dependencies bloat every hello.)
func (r *Replica) wanted() []Hash {
	var bodies []Hash
	for id := range r.lacking {
		bodies = append(bodies, id)
	}
	slices.SortFunc(bodies, func(a, b Hash) int { return compareHash(&a, &b) })
	return bodies[:min(len(bodies), maxWantIDs)]
}

// serve returns the stored changes among ids, encoded for peer.
func (r *Replica) serve(ids []Hash, peer PubKey) [][]byte {
	var out [][]byte
	for _, id := range ids {
		if b, ok := r.EnvelopeFor(id, peer); ok {
			out = append(out, b)
		}
	}
	return out
}

func (r *Replica) encodeFor(nodes []*node, peer PubKey) [][]byte {
	out := make([][]byte, 0, len(nodes))
	for _, n := range nodes {
		if b := r.release(n, peer); b != nil {
			out = append(out, b)
		}
	}
	return out
}

// missingFrom returns, in causal order, the stored changes that are not ancestors of
// theirs (ids this replica must hold). It walks back from both sets of heads in decreasing
// arrival order, so it visits the difference and its frontier, not the whole history.
func (r *Replica) missingFrom(theirs []Hash) []*node {
	const (
		oursOnly = 1
		common   = 2
	)
	mark := map[*node]uint8{}
	h := &seqHeap{}
	oursLeft := 0
	push := func(n *node, m uint8) {
		old, seen := mark[n]
		switch {
		case !seen:
			mark[n] = m
			heap.Push(h, n)
			if m == oursOnly {
				oursLeft++
			}
		case old == oursOnly && m == common:
			mark[n] = common
			oursLeft--
		}
	}
	for _, id := range theirs {
		push(r.nodes[id], common)
	}
	for _, n := range r.heads {
		push(n, oursOnly)
	}
	var out []*node
	for oursLeft > 0 {
		n := heap.Pop(h).(*node)
		m := mark[n]
		if m == oursOnly {
			oursLeft--
			out = append(out, n)
		}
		for _, d := range n.deps {
			push(d, m)
		}
	}
	slices.Reverse(out)
	return out
}

// seqHeap pops the node that arrived last: every descendant of a node pops before it.
type seqHeap []*node

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].seq > h[j].seq }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(*node)) }
func (h *seqHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}
