package transport

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// identity is a key the transport speaks as, with its certificate.
type identity struct {
	key  ed25519.PrivateKey
	cert tls.Certificate
}

func newIdentity(name string, key ed25519.PrivateKey, now time.Time) (*identity, error) {
	cert, err := selfCert(name, key, now)
	if err != nil {
		return nil, err
	}
	return &identity{key: key, cert: cert}, nil
}

// SetKey makes key this transport's identity from now on: the certificate of
// every later handshake, both ways, and the signature of every later packet.
// The charter lists the new key once a rotation is applied (Peers must map
// it to Config.Name for this side's own checks).
//
// Peers learn of the rotation at their own pace, and until one does it
// refuses the new key. So the key replaced stays as a fallback for dials
// only: a dial refused with a TLS alert is tried once more as that key,
// which a peer that knows the rotation refuses in turn. Open streams are
// left as they are: each peer closes those authenticated under the old key
// when it applies the rotation (Revalidate).
func (t *Transport) SetKey(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("transport: SetKey: %d bytes, want an ed25519 private key of %d", len(key), ed25519.PrivateKeySize)
	}
	id, err := newIdentity(t.cfg.Name, key, t.cfg.Now())
	if err != nil {
		return fmt.Errorf("transport: SetKey: %w", err)
	}
	old := t.id.Swap(id)
	if !old.key.Equal(key) {
		t.prev.Store(old)
	}
	t.log.Info("transport key replaced", "key", fmt.Sprintf("%x", key.Public().(ed25519.PublicKey)))
	return nil
}

// Key returns the public key this transport speaks as.
func (t *Transport) Key() ed25519.PublicKey { return t.id.Load().key.Public().(ed25519.PublicKey) }

// Revalidate closes every open stream whose peer's key Peers no longer maps
// to the name it was authenticated as: call it whenever the charter behind
// Peers changes, so that a key rotated away or removed keeps no stream. It
// returns how many it closed.
func (t *Transport) Revalidate() int {
	var stale []*Conn
	t.mu.Lock()
	for name, set := range t.conns {
		for c := range set {
			if got, ok := t.cfg.Peers.Lookup(c.Key); !ok || got != name {
				stale = append(stale, c)
			}
		}
	}
	t.mu.Unlock()
	for _, c := range stale {
		c.abort()
	}
	if len(stale) > 0 {
		t.log.Info("streams of keys no longer in the charter closed", "conns", len(stale))
	}
	return len(stale)
}

// refusedByPeer reports whether err is a TLS alert from the peer, which is
// how it refuses the certificate presented to it.
func refusedByPeer(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
