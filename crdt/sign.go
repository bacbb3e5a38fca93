package crdt

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
)

// Signer holds an Ed25519 private key.
type Signer struct {
	priv ed25519.PrivateKey
	pub  PubKey
}

// NewSigner wraps a private key.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	s := &Signer{priv: priv}
	copy(s.pub[:], priv.Public().(ed25519.PublicKey))
	return s
}

// SignerFromSeed derives a signer from a 32-byte seed (ed25519.NewKeyFromSeed).
func SignerFromSeed(seed []byte) *Signer { return NewSigner(ed25519.NewKeyFromSeed(seed)) }

// Public returns the signer's identity.
func (s *Signer) Public() PubKey { return s.pub }

// PrivateKey returns the key, for saving it.
func (s *Signer) PrivateKey() ed25519.PrivateKey { return s.priv }

func signingMessage(unsigned []byte) []byte {
	return append([]byte(domainSign), unsigned...)
}

// Sign fills in c's author and signatures and returns its envelope. bodies are the
// bodies of c's sealed operations in order; their hashes must already be the ops' values
// (use SealOp). Cosigners are needed only for charter changes.
func Sign(c *Change, bodies [][]byte, author *Signer, cosigners ...*Signer) (*Envelope, error) {
	c.Author = author.pub
	sealed := c.Sealed()
	if len(bodies) != len(sealed) {
		return nil, fmt.Errorf("crdt: %d bodies for %d sealed ops", len(bodies), len(sealed))
	}
	for i, body := range bodies {
		if Hash(c.Ops[sealed[i]].Value) != BodyHash(body) {
			return nil, fmt.Errorf("crdt: body %d does not match op %d", i, sealed[i])
		}
	}
	msg := signingMessage(appendUnsigned(nil, c))
	copy(c.Sig[:], ed25519.Sign(author.priv, msg))
	c.Cosigs = c.Cosigs[:0]
	for _, s := range cosigners {
		var cs Cosig
		cs.Key = s.pub
		copy(cs.Sig[:], ed25519.Sign(s.priv, msg))
		c.Cosigs = append(c.Cosigs, cs)
	}
	sort.Slice(c.Cosigs, func(i, j int) bool { return bytes.Compare(c.Cosigs[i].Key[:], c.Cosigs[j].Key[:]) < 0 })
	header := encodeHeader(c)
	// Decode what we encoded: a caller's bad input (unsorted deps, bad lengths) fails here, not at peers.
	dc, err := DecodeChange(header)
	if err != nil {
		return nil, fmt.Errorf("crdt: signing: %w", err)
	}
	return &Envelope{ID: hashWithDomain(domainChange, header), Change: dc, Header: header, Bodies: bodies}, nil
}

// SealOp returns a sealed operation for body, to pass with the body to Sign.
func SealOp(kind Kind, key, field string, body []byte) Op {
	h := BodyHash(body)
	return Op{Type: OpSeal, Kind: kind, Key: key, Field: field, Value: h[:]}
}

var errBadSignature = errors.New("bad signature")

// verifySignatures checks the author's signature and every cosignature.
func verifySignatures(c *Change, header []byte) error {
	unsignedLen := len(header) - 64 - uvarintLen(uint64(len(c.Cosigs))) - 96*len(c.Cosigs)
	msg := signingMessage(header[:unsignedLen])
	if !ed25519.Verify(c.Author[:], msg, c.Sig[:]) {
		return fmt.Errorf("%w by author %s", errBadSignature, c.Author)
	}
	for _, cs := range c.Cosigs {
		if !ed25519.Verify(cs.Key[:], msg, cs.Sig[:]) {
			return fmt.Errorf("%w by cosigner %s", errBadSignature, cs.Key)
		}
	}
	return nil
}

// SignChange returns s's signature of c, made apart from the other signers': c.Author
// must already be set, and every signer of a change signs the same bytes (Assemble).
func (s *Signer) SignChange(c *Change) [64]byte {
	var sig [64]byte
	copy(sig[:], ed25519.Sign(s.priv, signingMessage(appendUnsigned(nil, c))))
	return sig
}

// VerifyChange reports whether sig is key's signature of c (as author or cosigner).
func VerifyChange(c *Change, key PubKey, sig [64]byte) bool {
	return ed25519.Verify(key[:], signingMessage(appendUnsigned(nil, c)), sig[:])
}

// Assemble returns the envelope of a change without sealed operations whose signatures
// were made apart (SignChange): sig is c.Author's, cosigs the other signers'. Every
// signature is verified; the cosignatures are sorted by key.
func Assemble(c *Change, sig [64]byte, cosigs []Cosig) (*Envelope, error) {
	if len(c.Sealed()) > 0 {
		return nil, fmt.Errorf("crdt: assemble: a change with sealed operations needs its bodies (Sign)")
	}
	c.Sig = sig
	c.Cosigs = append([]Cosig(nil), cosigs...)
	sort.Slice(c.Cosigs, func(i, j int) bool { return bytes.Compare(c.Cosigs[i].Key[:], c.Cosigs[j].Key[:]) < 0 })
	for i := 1; i < len(c.Cosigs); i++ {
		if c.Cosigs[i].Key == c.Cosigs[i-1].Key {
			return nil, fmt.Errorf("crdt: assemble: %s signs twice", c.Cosigs[i].Key)
		}
	}
	header := encodeHeader(c)
	dc, err := DecodeChange(header)
	if err != nil {
		return nil, fmt.Errorf("crdt: assemble: %w", err)
	}
	if err := verifySignatures(dc, header); err != nil {
		return nil, fmt.Errorf("crdt: assemble: %w", err)
	}
	return &Envelope{ID: hashWithDomain(domainChange, header), Change: dc, Header: header}, nil
}
