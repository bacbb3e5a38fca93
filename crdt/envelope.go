package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Envelope is a change header together with the bodies of its sealed operations.
// Bodies is empty when they were withheld (the holder is outside the change's bound)
// and otherwise has one body per sealed operation, in operation order.
type Envelope struct {
	ID     Hash
	Change *Change
	Header []byte
	Bodies [][]byte
}

// Encoding: uvarint header length, header, uvarint body count, then uvarint length + bytes each.

// Encode returns the envelope with its bodies.
func (e *Envelope) Encode() []byte { return e.encode(true) }

// EncodeHeaderOnly returns the envelope without bodies: all a replica outside the bound may get.
func (e *Envelope) EncodeHeaderOnly() []byte { return e.encode(false) }

// Size returns the encoded size with bodies, without encoding.
func (e *Envelope) Size() int {
	n := uvarintLen(uint64(len(e.Header))) + len(e.Header) + uvarintLen(uint64(len(e.Bodies)))
	for _, b := range e.Bodies {
		n += uvarintLen(uint64(len(b))) + len(b)
	}
	return n
}

func (e *Envelope) encode(withBodies bool) []byte {
	b := make([]byte, 0, e.Size())
	b = appendBytes(b, e.Header)
	if !withBodies {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Bodies)))
	for _, body := range e.Bodies {
		b = appendBytes(b, body)
	}
	return b
}

// HasBodies reports whether the envelope carries every body of its sealed operations
// (trivially true when there are none).
func (e *Envelope) HasBodies() bool {
	for _, op := range e.Change.Ops {
		if op.Type == OpSeal {
			return len(e.Bodies) > 0
		}
	}
	return true
}

// DecodeEnvelope decodes an envelope and checks that each body matches its hash.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: envelope of %d bytes exceeds %d", ErrMalformed, len(b), MaxEnvelopeBytes)
	}
	d := &decoder{b: b}
	header := d.bytes("header", MaxHeaderBytes)
	if d.err != nil {
		return nil, d.err
	}
	c, err := DecodeChange(header)
	if err != nil {
		return nil, err
	}
	sealed := c.Sealed()
	n := d.count("bodies", len(sealed))
	var bodies [][]byte
	if n > 0 {
		if n != len(sealed) {
			return nil, fmt.Errorf("%w: %d bodies for %d sealed ops", ErrMalformed, n, len(sealed))
		}
		bodies = make([][]byte, n)
		for i := range bodies {
			bodies[i] = d.bytes("body", MaxBodyBytes)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after envelope", ErrMalformed, len(b)-d.off)
	}
	for i, body := range bodies {
		if h := BodyHash(body); Hash(c.Ops[sealed[i]].Value) != h {
			return nil, fmt.Errorf("%w: body %d does not match its hash", ErrMalformed, i)
		}
	}
	env := &Envelope{ID: hashWithDomain(domainChange, header), Change: c, Header: header, Bodies: bodies}
	if !bytes.Equal(env.encode(len(bodies) > 0), b) {
		return nil, fmt.Errorf("%w: envelope not in canonical form", ErrMalformed)
	}
	return env, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
