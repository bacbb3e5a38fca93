package crdt

import (
	"encoding/binary"
	"fmt"
)

type msgType uint8

const (
	msgHello   msgType = 1 // initiator: heads, count, salt, wanted ids
	msgSymbols msgType = 2 // responder: coded symbols (first batch with heads and count)
	msgMore    msgType = 3 // initiator: send more symbols
	msgChanges msgType = 4 // either side: changes, and keys it wants
)

// Section flags: a message carries only the sections it needs.
const (
	secHeads = 1 << iota
	secCount
	secSalt
	secSymbols
	secMore
	secWantKeys
	secWantIDs
	secChanges
)

// MaxSyncMessageBytes bounds one encoded sync message.
const MaxSyncMessageBytes = 64 << 20

// maxSyncList bounds the list lengths in a sync message.
const maxSyncList = 1 << 20

type syncMsg struct {
	typ      msgType
	final    bool // the sender expects no reply
	heads    []Hash
	count    uint64
	salt     uint64
	start    uint64 // index of the first symbol
	symbols  []codedSymbol
	more     uint64
	wantKeys []uint64
	wantIDs  []Hash
	changes  [][]byte
}

// encode: type byte (0x80 = final), flags uvarint, then the present sections in flag order.
func (m *syncMsg) encode() []byte {
	var flags uint64
	if len(m.heads) > 0 {
		flags |= secHeads
	}
	if m.count > 0 {
		flags |= secCount
	}
	if m.salt != 0 {
		flags |= secSalt
	}
	if len(m.symbols) > 0 {
		flags |= secSymbols
	}
	if m.more > 0 {
		flags |= secMore
	}
	if len(m.wantKeys) > 0 {
		flags |= secWantKeys
	}
	if len(m.wantIDs) > 0 {
		flags |= secWantIDs
	}
	if len(m.changes) > 0 {
		flags |= secChanges
	}
	t := byte(m.typ)
	if m.final {
		t |= 0x80
	}
	b := []byte{t}
	b = binary.AppendUvarint(b, flags)
	if flags&secHeads != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.heads)))
		for i := range m.heads {
			b = append(b, m.heads[i][:]...)
		}
	}
	if flags&secCount != 0 {
		b = binary.AppendUvarint(b, m.count)
	}
	if flags&secSalt != 0 {
		b = binary.LittleEndian.AppendUint64(b, m.salt)
	}
	if flags&secSymbols != 0 {
		b = binary.AppendUvarint(b, m.start)
		b = binary.AppendUvarint(b, uint64(len(m.symbols)))
		for _, s := range m.symbols {
			b = binary.LittleEndian.AppendUint64(b, s.keySum)
			b = binary.LittleEndian.AppendUint64(b, s.hashSum)
			b = binary.AppendVarint(b, s.count)
		}
	}
	if flags&secMore != 0 {
		b = binary.AppendUvarint(b, m.more)
	}
	if flags&secWantKeys != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.wantKeys)))
		for _, k := range m.wantKeys {
			b = binary.LittleEndian.AppendUint64(b, k)
		}
	}
	if flags&secWantIDs != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.wantIDs)))
		for i := range m.wantIDs {
			b = append(b, m.wantIDs[i][:]...)
		}
	}
	if flags&secChanges != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.changes)))
		for _, c := range m.changes {
			b = appendBytes(b, c)
		}
	}
	return b
}

func decodeSyncMsg(b []byte) (*syncMsg, error) {
	if len(b) > MaxSyncMessageBytes {
		return nil, fmt.Errorf("%w: sync message of %d bytes exceeds %d", ErrMalformed, len(b), MaxSyncMessageBytes)
	}
	d := &decoder{b: b}
	m := &syncMsg{}
	t := d.fixed("message type", 1)
	if d.err != nil {
		return nil, d.err
	}
	m.typ, m.final = msgType(t[0]&0x7f), t[0]&0x80 != 0
	if m.typ < msgHello || m.typ > msgChanges {
		return nil, fmt.Errorf("%w: unknown sync message type %d", ErrMalformed, m.typ)
	}
	flags := d.uvarint("flags")
	if flags >= secChanges<<1 {
		return nil, fmt.Errorf("%w: unknown sync message sections %#x", ErrMalformed, flags)
	}
	if flags&secHeads != 0 {
		m.heads = make([]Hash, d.list("heads", 32))
		for i := range m.heads {
			copy(m.heads[i][:], d.fixed("head", 32))
		}
	}
	if flags&secCount != 0 {
		m.count = d.uvarint("count")
	}
	if flags&secSalt != 0 {
		if s := d.fixed("salt", 8); s != nil {
			m.salt = binary.LittleEndian.Uint64(s)
		}
	}
	if flags&secSymbols != 0 {
		m.start = d.uvarint("symbol start")
		m.symbols = make([]codedSymbol, d.list("symbols", 17))
		for i := range m.symbols {
			s := &m.symbols[i]
			if v := d.fixed("symbol", 16); v != nil {
				s.keySum = binary.LittleEndian.Uint64(v)
				s.hashSum = binary.LittleEndian.Uint64(v[8:])
			}
			if d.err == nil {
				c, n := binary.Varint(d.b[d.off:])
				if n <= 0 {
					d.fail("bad symbol count")
				}
				d.off += max(n, 0)
				s.count = c
			}
		}
	}
	if flags&secMore != 0 {
		m.more = d.uvarint("more")
	}
	if flags&secWantKeys != 0 {
		m.wantKeys = make([]uint64, d.list("wanted keys", 8))
		for i := range m.wantKeys {
			if v := d.fixed("wanted key", 8); v != nil {
				m.wantKeys[i] = binary.LittleEndian.Uint64(v)
			}
		}
	}
	if flags&secWantIDs != 0 {
		m.wantIDs = make([]Hash, d.list("wanted ids", 32))
		for i := range m.wantIDs {
			copy(m.wantIDs[i][:], d.fixed("wanted id", 32))
		}
	}
	if flags&secChanges != 0 {
		m.changes = make([][]byte, d.list("changes", 1))
		for i := range m.changes {
			m.changes[i] = d.bytes("change", MaxEnvelopeBytes)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes in sync message", ErrMalformed, len(b)-d.off)
	}
	return m, nil
}

// list reads a list length that the remaining bytes can hold at elem bytes an element,
// so that a short message cannot make the decoder allocate much.
func (d *decoder) list(what string, elem int) int {
	n := d.count(what, maxSyncList)
	if d.err == nil && n*elem > len(d.b)-d.off {
		d.fail("%d %s cannot fit in %d bytes", n, what, len(d.b)-d.off)
		return 0
	}
	return n
}
