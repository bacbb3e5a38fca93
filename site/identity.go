package site

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"atoll/crdt"
)

// NewKeyFile creates an Ed25519 key and writes it as a PKCS#8 PEM file readable only by
// its owner. It refuses to overwrite an existing file.
func NewKeyFile(path string) (crdt.PubKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return crdt.PubKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return crdt.PubKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return crdt.PubKey{}, fmt.Errorf("key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return crdt.PubKey{}, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return crdt.PubKey{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return crdt.PubKey(pub), nil
}

// LoadKeyFile reads a key written by NewKeyFile.
func LoadKeyFile(path string) (*crdt.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key file %s: no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: a %T, want an Ed25519 key", path, k)
	}
	return crdt.NewSigner(priv), nil
}

// FormatKey writes a public key as "ed25519:<base64>", the form charters and CLI use.
func FormatKey(k crdt.PubKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(k[:])
}

// ParseKey reads a public key written by FormatKey.
func ParseKey(s string) (crdt.PubKey, error) {
	b64, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return crdt.PubKey{}, fmt.Errorf("public key %q: want ed25519:<base64>", s)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return crdt.PubKey{}, fmt.Errorf("public key %q: want 32 bytes in base64", s)
	}
	return crdt.PubKey(b), nil
}
