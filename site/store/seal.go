package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// A sealed record is
//
//	version(1) || nonce(12) || AES-256-GCM(dataKey, nonce, plaintext, aad)
//
// with aad = len(place) || place || key: the name of the bucket (or file kind) the
// record lives in, prefixed by its length so that no two places run into each other,
// and the record's key there. The AAD binds a record to its place: moved to another
// key or bucket, it no longer opens (docs/adr/0007-data-at-rest.md).

// sealVersion is the first byte of every sealed record.
const sealVersion = 1

// sealOverhead is what sealing adds to a plaintext: version, nonce and GCM tag.
const sealOverhead = 1 + 12 + 16

// dataKeyInfo is the HKDF info string of the data key; a new key derivation gets a new
// string.
const dataKeyInfo = "atoll data at rest v1"

// ErrOpen is returned, wrapped, for a sealed record that does not open: encrypted
// under another key, moved from another place, tampered with or truncated. GCM cannot
// tell these apart.
var ErrOpen = errors.New("does not decrypt: another key, another place, or tampered")

// DataKey seals and opens records with AES-256-GCM. It is safe for concurrent use.
type DataKey struct{ aead cipher.AEAD }

// NewDataKey returns the data key for 32 bytes of key material.
func NewDataKey(key []byte) (*DataKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &DataKey{aead}, nil
}

// DeriveDataKey returns a site's data key: HKDF-SHA256 of its Ed25519 seed, salted
// with its federation's genesis id. Every replica of a site derives the same key;
// sites do not share one.
func DeriveDataKey(seed []byte, genesis [32]byte) (*DataKey, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("data key: a %d-byte seed, want 32", len(seed))
	}
	key, err := hkdf.Key(sha256.New, seed, genesis[:], dataKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	return NewDataKey(key)
}

// Seal encrypts plaintext for the record key in place (a bucket or file kind).
func (k *DataKey) Seal(place string, key, plaintext []byte) []byte {
	out := make([]byte, 1+k.aead.NonceSize(), sealOverhead+len(plaintext))
	out[0] = sealVersion
	_, _ = rand.Read(out[1:]) // never fails (crypto/rand)
	return k.aead.Seal(out, out[1:], plaintext, sealAAD(place, key))
}

// Open decrypts what Seal made for the same place and key. Any other input fails
// with an error wrapping ErrOpen, or naming the version it does not know.
func (k *DataKey) Open(place string, key, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("sealed record of %d bytes, want at least %d: %w", len(sealed), sealOverhead, ErrOpen)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("sealed record version %d, want %d: %w", sealed[0], sealVersion, ErrOpen)
	}
	n := 1 + k.aead.NonceSize()
	out, err := k.aead.Open(nil, sealed[1:n], sealed[n:], sealAAD(place, key))
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// sealAAD is len(place) || place || key.
func sealAAD(place string, key []byte) []byte {
	if len(place) > 255 {
		panic(fmt.Sprintf("store: seal place %q longer than 255 bytes", place))
	}
	aad := make([]byte, 0, 1+len(place)+len(key))
	aad = append(aad, byte(len(place)))
	aad = append(aad, place...)
	return append(aad, key...)
}
