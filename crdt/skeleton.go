package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Skeletons in the data file (compact.go). A replica that compacted a change hands its
// skeleton to the caller (TakeSkeletons) to store beside the whole change. On restart the
// caller gives the skeleton back instead of the change (RestoreSkeleton), so a restart
// reads and rebuilds what is live, plus a few dozen bytes per shadowed change; the whole
// change stays in the data file for peers that ask for it (Config.Archive).
//
// Encoding: version 1, id, Lamport time, dependencies (count, ids), the header's first
// 33 bytes (format version and author), header and body sizes, flags (bit 0 void, bit 1
// bodies in the archive), bound (count, jurisdictions). The data file is sealed, so a
// skeleton is trusted as a whole change restored from it is: its dependencies must be
// held and its Lamport time must follow theirs.

const skeletonVersion = 1

// Skeleton is a compacted change's skeleton, to store under its id.
type Skeleton struct {
	ID   Hash
	Data []byte
}

func (r *Replica) encodeSkeleton(n *node) []byte {
	b := []byte{skeletonVersion}
	b = append(b, n.id[:]...)
	b = binary.AppendUvarint(b, n.lamport)
	b = binary.AppendUvarint(b, uint64(len(n.deps)))
	for _, d := range n.deps {
		b = append(b, d.id[:]...)
	}
	b = append(b, n.header[:33]...)
	b = binary.AppendUvarint(b, uint64(n.size))
	b = binary.AppendUvarint(b, uint64(n.bodySz))
	var flags byte
	if n.masked {
		flags |= 1
	}
	if n.filed {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(n.bound())))
	for _, j := range n.bound() {
		b = appendBytes(b, []byte(j))
	}
	return b
}

// TakeSkeletons returns the skeletons made or changed since the last call, for the
// caller to store (RestoreSkeleton takes them back).
func (r *Replica) TakeSkeletons() []Skeleton {
	if len(r.skelDirty) == 0 {
		return nil
	}
	out := make([]Skeleton, 0, len(r.skelDirty))
	for _, n := range r.skelDirty {
		out = append(out, Skeleton{ID: n.id, Data: r.encodeSkeleton(n)})
	}
	r.skelDirty = nil
	return out
}

// RestoreSkeleton holds a skeleton read back from this replica's own data file, in place
// of its change: its dependencies must be held already.
func (r *Replica) RestoreSkeleton(b []byte) error {
	d := &decoder{b: b}
	if v := d.fixed("version", 1); d.err == nil && v[0] != skeletonVersion {
		return fmt.Errorf("%w: unknown skeleton version %d", ErrMalformed, v[0])
	}
	var id Hash
	copy(id[:], d.fixed("id", 32))
	lamport := d.uvarint("lamport")
	deps := make([]*node, d.count("dependencies", MaxDeps))
	for i := range deps {
		var h Hash
		copy(h[:], d.fixed("dependency", 32))
		if d.err == nil && deps[i] == nil {
			if deps[i] = r.nodes[h]; deps[i] == nil {
				return fmt.Errorf("crdt: skeleton %s restored before its dependency %s", id, h)
			}
		}
	}
	head := slices.Clone(d.fixed("author", 33))
	size, bodySize := d.uvarint("size"), d.uvarint("body size")
	flags := d.fixed("flags", 1)
	var bound []string
	if n := d.count("bound", MaxBound); n > 0 {
		bound = make([]string, n)
		for i := range bound {
			bound[i] = string(d.bytes("jurisdiction", MaxNameBytes))
		}
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d trailing bytes", len(b)-d.off)
	}
	if d.err != nil {
		return fmt.Errorf("crdt: skeleton: %w", d.err)
	}
	if _, ok := r.nodes[id]; ok {
		return nil
	}
	if len(deps) == 0 {
		return fmt.Errorf("crdt: skeleton %s has no dependencies", id)
	}
	var maxLamport uint64
	for _, dep := range deps {
		maxLamport = max(maxLamport, dep.lamport)
	}
	if lamport != maxLamport+1 {
		return fmt.Errorf("crdt: skeleton %s at Lamport time %d, want %d", id, lamport, maxLamport+1)
	}
	pre := r.csetOf(deps)
	ch := r.viewOf(pre).charter
	n := &node{id: id, header: head, lamport: lamport, deps: deps, cset: pre, seq: int32(len(r.order)),
		skel: true, masked: flags[0]&1 != 0, filed: flags[0]&2 != 0, size: uint32(size), bodySz: uint32(bodySize)}
	if len(bound) > 0 {
		n.sp = &sealedPart{bound: bound}
	}
	var u *usage
	for _, dep := range deps {
		u = maxUsage(u, dep.usage)
	}
	author := n.author()
	if ch.Operators[author] != nil {
		idx := r.opIndex(author)
		u = u.with(idx, u.get(idx)+size)
		if r.used == nil {
			r.used = map[PubKey]uint64{}
		}
		r.used[author] += size + bodySize
	}
	n.usage = u
	r.nodes[id] = n
	r.order = append(r.order, n)
	for _, dep := range deps {
		delete(r.heads, dep.id)
	}
	r.heads[id] = n
	r.skeletons++
	if n.masked {
		r.masked++
	}
	r.acknowledge(n)
	return nil
}
