package crdt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The header encoding, canonical (one byte string per change, checked on decode):
//
//	version      1 byte (1)
//	author       32 bytes
//	lamport      uvarint
//	deps         uvarint count, then 32 bytes each, strictly increasing
//	bound        uvarint count, then uvarint length + bytes each, strictly increasing
//	ops          uvarint count, then each op:
//	               head byte: type in bits 0-2, 0x08 if kind and key repeat the previous op's,
//	                          kind in bits 4-7 otherwise
//	               key        uvarint length + bytes (absent when repeated)
//	               field      uvarint length + bytes (absent for remove)
//	               value      uvarint length + bytes (set), 32 bytes (seal), absent otherwise
//	cosigs       uvarint count, then 32-byte key + 64-byte signature each, strictly increasing by key
//	signature    64 bytes, over the domain string and every byte before the cosigs
//
// A status update (one set) with one dep costs about 175 bytes.

const sameObject = 0x08

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("malformed")

// appendUnsigned appends everything the author and cosigners sign.
func appendUnsigned(b []byte, c *Change) []byte {
	b = append(b, formatVersion)
	b = append(b, c.Author[:]...)
	b = binary.AppendUvarint(b, c.Lamport)
	b = binary.AppendUvarint(b, uint64(len(c.Deps)))
	for i := range c.Deps {
		b = append(b, c.Deps[i][:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Bound)))
	for _, j := range c.Bound {
		b = appendBytes(b, []byte(j))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	for i := range c.Ops {
		op := &c.Ops[i]
		head := byte(op.Type)
		same := i > 0 && c.Ops[i-1].Kind == op.Kind && c.Ops[i-1].Key == op.Key
		if same {
			head |= sameObject
		} else {
			head |= byte(op.Kind) << 4
		}
		b = append(b, head)
		if !same {
			b = appendBytes(b, []byte(op.Key))
		}
		if op.Type != OpRemove {
			b = appendBytes(b, []byte(op.Field))
		}
		switch op.Type {
		case OpSet:
			b = appendBytes(b, op.Value)
		case OpSeal:
			b = append(b, op.Value...)
		}
	}
	return b
}

// encodeHeader returns the canonical header bytes of a signed change.
func encodeHeader(c *Change) []byte {
	b := appendUnsigned(make([]byte, 0, 128+64*len(c.Ops)), c)
	b = binary.AppendUvarint(b, uint64(len(c.Cosigs)))
	for i := range c.Cosigs {
		b = append(b, c.Cosigs[i].Key[:]...)
		b = append(b, c.Cosigs[i].Sig[:]...)
	}
	return append(b, c.Sig[:]...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads a byte string and remembers the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad %s varint", what)
		return 0
	}
	d.off += n
	return v
}

// count reads a uvarint count bounded by max.
func (d *decoder) count(what string, max int) int {
	v := d.uvarint(what)
	if v > uint64(max) {
		d.fail("%s count %d exceeds %d", what, v, max)
		return 0
	}
	return int(v)
}

func (d *decoder) fixed(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < n {
		d.fail("truncated %s: need %d bytes, have %d", what, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s of %d bytes exceeds %d", what, n, max)
		return nil
	}
	return d.fixed(what, int(n))
}

// DecodeChange decodes and checks the canonical form of a change header.
// It checks structure only; validity needs the causal past (see Replica).
func DecodeChange(b []byte) (*Change, error) {
	if len(b) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: header of %d bytes exceeds %d", ErrMalformed, len(b), MaxHeaderBytes)
	}
	c, err := parseChange(b)
	if err != nil {
		return nil, err
	}
	if err := checkOrder(c); err != nil {
		return nil, err
	}
	if !bytes.Equal(encodeHeader(c), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return c, nil
}

// parseChange reads a change header without the checks of DecodeChange: for headers a
// replica holds, which passed them when they arrived.
func parseChange(b []byte) (*Change, error) {
	d := &decoder{b: b}
	c := &Change{}
	if v := d.fixed("version", 1); d.err == nil && v[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrMalformed, v[0])
	}
	copy(c.Author[:], d.fixed("author", 32))
	c.Lamport = d.uvarint("lamport")
	if n := d.count("deps", MaxDeps); n > 0 {
		c.Deps = make([]Hash, n)
		for i := range c.Deps {
			copy(c.Deps[i][:], d.fixed("dep", 32))
		}
	}
	if n := d.count("bound", MaxBound); n > 0 {
		c.Bound = make([]string, n)
		for i := range c.Bound {
			c.Bound[i] = string(d.bytes("jurisdiction", MaxJurisdiction))
		}
	}
	if n := d.count("ops", MaxOps); n > 0 {
		c.Ops = make([]Op, n)
		for i := range c.Ops {
			d.op(c, i)
		}
	}
	if n := d.count("cosigs", MaxCosigs); n > 0 {
		c.Cosigs = make([]Cosig, n)
		for i := range c.Cosigs {
			copy(c.Cosigs[i].Key[:], d.fixed("cosig key", 32))
			copy(c.Cosigs[i].Sig[:], d.fixed("cosig", 64))
		}
	}
	copy(c.Sig[:], d.fixed("signature", 64))
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-d.off)
	}
	return c, nil
}

func (d *decoder) op(c *Change, i int) {
	op := &c.Ops[i]
	hb := d.fixed("op head", 1)
	if d.err != nil {
		return
	}
	head := hb[0]
	op.Type = OpType(head & 0x07)
	if op.Type < OpSet || op.Type > maxOp {
		d.fail("op %d: unknown type %d", i, op.Type)
		return
	}
	if head&sameObject != 0 {
		if i == 0 || head>>4 != 0 {
			d.fail("op %d: bad repeat flag", i)
			return
		}
		op.Kind, op.Key = c.Ops[i-1].Kind, c.Ops[i-1].Key
	} else {
		// A kind above maxKind decodes: it may be a later level's (format.go), which only
		// the charter of the change's causal past can tell.
		op.Kind = Kind(head >> 4)
		if op.Kind < KindCharter {
			d.fail("op %d: unknown kind %d", i, op.Kind)
			return
		}
		op.Key = string(d.bytes("key", MaxNameBytes))
	}
	if op.Type != OpRemove {
		op.Field = string(d.bytes("field", MaxNameBytes))
	}
	switch op.Type {
	case OpSet:
		op.Value = d.bytes("value", MaxValueBytes)
	case OpSeal:
		op.Value = d.fixed("body hash", 32)
	}
}

// checkOrder rejects duplicate or unsorted lists, which would give one change two encodings.
func checkOrder(c *Change) error {
	for i := 1; i < len(c.Deps); i++ {
		if compareHash(&c.Deps[i-1], &c.Deps[i]) >= 0 {
			return fmt.Errorf("%w: deps not strictly increasing at %d", ErrMalformed, i)
		}
	}
	for i := 1; i < len(c.Bound); i++ {
		if c.Bound[i-1] >= c.Bound[i] {
			return fmt.Errorf("%w: bound not strictly increasing at %d", ErrMalformed, i)
		}
	}
	for i := 1; i < len(c.Cosigs); i++ {
		if bytes.Compare(c.Cosigs[i-1].Key[:], c.Cosigs[i].Key[:]) >= 0 {
			return fmt.Errorf("%w: cosigs not strictly increasing at %d", ErrMalformed, i)
		}
	}
	return nil
}
