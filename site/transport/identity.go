package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Errors a caller may branch on.
var (
	// ErrUnknownPeer: the other side's key is not a site in the charter.
	ErrUnknownPeer = errors.New("peer key not in charter")
	// ErrWrongPeer: the other side is a charter site, but not the one dialed.
	ErrWrongPeer = errors.New("peer is not the site dialed")
	// ErrBlocked: the peer is blocked by Block.
	ErrBlocked = errors.New("peer blocked")
	// ErrClosed: the transport is shut down.
	ErrClosed = errors.New("transport shut down")
)

// alpn names the protocol in the TLS handshake, so that a client of some
// other protocol fails the handshake instead of sending it bytes.
const alpn = "atoll-transport/1"

// certValidity is the validity of the self-signed certificate. Peers do not
// check it (the key is the identity, see identify), so a site that runs
// longer than this keeps working.
const certValidity = 365 * 24 * time.Hour

// selfCert makes the TLS certificate of this site: self-signed by key, with
// the site name as common name.
func selfCert(name string, key ed25519.PrivateKey, now time.Time) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate for %q: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse own certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// identify returns the charter name and key of the peer that presented
// certs. It requires exactly one certificate, holding an Ed25519 key, whose
// own signature verifies under that key, and a key that peers.Lookup knows.
//
// Only the key matters: the common name, validity dates and extensions are
// not checked, and no CA is involved. The TLS 1.3 CertificateVerify message,
// checked by crypto/tls before this is called, proves the peer holds the
// private key.
func identify(peers Peers, certs []*x509.Certificate) (string, ed25519.PublicKey, error) {
	key, err := CertKey(certs)
	if err != nil {
		return "", nil, err
	}
	name, ok := peers.Lookup(key)
	if !ok {
		return "", nil, fmt.Errorf("%w: %x", ErrUnknownPeer, []byte(key))
	}
	return name, key, nil
}

// SelfSigned makes a TLS certificate self-signed by key, with name as common name: what
// sites present on the transport, and what a client presents to a site's HTTP server to
// prove a charter key.
func SelfSigned(name string, key ed25519.PrivateKey, now time.Time) (tls.Certificate, error) {
	return selfCert(name, key, now)
}

// CertKey returns the Ed25519 key of a certificate chain as identify checks it: exactly
// one certificate, self-signed by its own Ed25519 key. Whoever checks the key's role
// does so next; crypto/tls has already checked that the peer holds the private key.
func CertKey(certs []*x509.Certificate) (ed25519.PublicKey, error) {
	if len(certs) != 1 {
		return nil, fmt.Errorf("peer presented %d certificates, want 1", len(certs))
	}
	cert := certs[0]
	key, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || cert.SignatureAlgorithm != x509.PureEd25519 {
		return nil, fmt.Errorf("peer certificate is %v signed with %v, want ed25519",
			cert.PublicKeyAlgorithm, cert.SignatureAlgorithm)
	}
	// CheckSignatureFrom(cert) would also demand the CA flag and cert-sign
	// key usage of a self-signed leaf; checking the signature with the
	// certificate's own key is the same proof without those demands.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("peer certificate is not self-signed by its key: %w", err)
	}
	return key, nil
}

// serverTLS is the configuration for accepted connections.
func (t *Transport) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &t.id.Load().cert, nil
		},
		ClientAuth:             tls.RequireAnyClientCert,
		NextProtos:             []string{alpn},
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			name, _, err := identify(t.cfg.Peers, cs.PeerCertificates)
			if err != nil {
				return err
			}
			if t.isBlocked(name) {
				return fmt.Errorf("%w: %s", ErrBlocked, name)
			}
			return nil
		},
	}
}

// clientTLS is the configuration for a dial, as id, to the site named want,
// or to any charter site if want is "".
func (t *Transport) clientTLS(want string, id *identity) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &id.cert, nil
		},
		NextProtos: []string{alpn},
		// The chain is not checked against any CA: identity is the charter
		// key, checked by VerifyConnection, which runs regardless.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			name, _, err := identify(t.cfg.Peers, cs.PeerCertificates)
			if err != nil {
				return err
			}
			if want != "" && name != want {
				return fmt.Errorf("%w: dialed %q, peer is %q", ErrWrongPeer, want, name)
			}
			if t.isBlocked(name) {
				return fmt.Errorf("%w: %s", ErrBlocked, name)
			}
			return nil
		},
	}
}
