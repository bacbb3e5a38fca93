package peering

import (
	"encoding/binary"
	"fmt"
)

// MaxMetaHeads is how many DAG heads a Meta carries. 8 heads of 32 bytes keep the metadata
// well under memberlist's 512-byte limit.
const MaxMetaHeads = 8

const metaVersion = 1

// Meta is what a site advertises in its memberlist node metadata.
type Meta struct {
	Changes uint64     // changes the site holds
	Heads   [][32]byte // up to MaxMetaHeads of its heads, smallest ids first
	More    bool       // it has more heads than Heads lists
}

// NewMeta builds the advertisement for a replica with the given sorted heads.
func NewMeta(changes int, heads [][32]byte) Meta {
	m := Meta{Changes: uint64(changes)}
	if len(heads) > MaxMetaHeads {
		heads, m.More = heads[:MaxMetaHeads], true
	}
	m.Heads = append([][32]byte(nil), heads...)
	return m
}

// Encode returns the metadata bytes.
func (m Meta) Encode() []byte {
	if len(m.Heads) > MaxMetaHeads {
		panic(fmt.Sprintf("peering: Meta with %d heads, at most %d", len(m.Heads), MaxMetaHeads))
	}
	b := []byte{metaVersion}
	b = binary.AppendUvarint(b, m.Changes)
	n := byte(len(m.Heads))
	if m.More {
		n |= 0x80
	}
	b = append(b, n)
	for _, h := range m.Heads {
		b = append(b, h[:]...)
	}
	return b
}

// DecodeMeta parses metadata advertised by a peer.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 || b[0] != metaVersion {
		return m, fmt.Errorf("peering: node metadata: unknown version")
	}
	changes, k := binary.Uvarint(b[1:])
	if k <= 0 || k != len(binary.AppendUvarint(nil, changes)) {
		return m, fmt.Errorf("peering: node metadata: bad change count")
	}
	rest := b[1+k:]
	if len(rest) == 0 {
		return m, fmt.Errorf("peering: node metadata: missing head count")
	}
	n := int(rest[0] & 0x7f)
	m.Changes, m.More = changes, rest[0]&0x80 != 0
	rest = rest[1:]
	if n > MaxMetaHeads || len(rest) != 32*n {
		return m, fmt.Errorf("peering: node metadata: %d heads in %d bytes", n, len(rest))
	}
	for i := range n {
		m.Heads = append(m.Heads, [32]byte(rest[32*i:32*i+32]))
	}
	return m, nil
}
