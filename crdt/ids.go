package crdt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest: a change id, a body hash or a state digest.
type Hash [32]byte

// PubKey is an Ed25519 public key: the identity of a site, operator, admin or observer.
type PubKey [32]byte

// String returns the first 8 bytes in hex, enough to tell hashes apart in logs.
func (h Hash) String() string { return hex.EncodeToString(h[:8]) }

// Hex returns the full hash in hex.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// Less orders hashes bytewise; it is the tie-break of equal Lamport times.
func (h Hash) Less(o Hash) bool { return compareHash(&h, &o) < 0 }

// String returns the first 8 bytes of the key in hex.
func (k PubKey) String() string { return hex.EncodeToString(k[:8]) }

// Hex returns the full key in hex.
func (k PubKey) Hex() string { return hex.EncodeToString(k[:]) }

// Domain separation: the same bytes never hash or sign to the same value in two roles.
const (
	domainChange = "atoll/change/v1\x00"
	domainBody   = "atoll/body/v1\x00"
	domainSign   = "atoll/sign/v1\x00"
	domainState  = "atoll/state/v1\x00"
)

func hashWithDomain(domain string, b []byte) Hash {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(b)
	var out Hash
	h.Sum(out[:0])
	return out
}

// BodyHash is the hash a sealed operation carries for its body.
func BodyHash(body []byte) Hash { return hashWithDomain(domainBody, body) }

func compareHash(a, b *Hash) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ParseHash reads a hash written by Hex.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("change id %q: want %d hex digits", s, 2*len(h))
	}
	copy(h[:], b)
	return h, nil
}
