package kubeproc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Files of a PKI directory (Dir/pki of an APIServer): what APIServer.Args points the
// apiserver at.
const (
	CACertFile      = "ca.crt"      // the CA clients trust and client certificates chain to
	CAKeyFile       = "ca.key"      // its key
	ServingCertFile = "serving.crt" // the apiserver's serving certificate
	ServingKeyFile  = "serving.key" // its key
	SAKeyFile       = "sa.key"      // the key signing service account tokens
	SAPubFile       = "sa.pub"      // its public half, verifying them
	TokenFile       = "tokens.csv"  // --token-auth-file (WriteTokenFile)
)

// CA is a certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a self-signed ECDSA P-256 CA valid for validity, from an hour ago (to
// tolerate clock skew).
func NewCA(cn string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := certTemplate(cn, []string{"atoll"}, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("kubeproc: self-signing the CA %s: %w", cn, err)
	}
	keyPEM, err := privateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return LoadCA(pemBlock("CERTIFICATE", der), keyPEM)
}

// LoadCA reads a CA from its certificate and PKCS #8 key, PEM, as NewCA makes them. It
// fails unless the certificate is a CA's and the key is its own.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("kubeproc: %q is not a CA certificate", cert.Subject.CommonName)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, errors.New("kubeproc: no PRIVATE KEY block in the CA key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("kubeproc: CA key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("kubeproc: CA key of type %T cannot sign", k)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("kubeproc: the CA key is not the key of %q", cert.Subject.CommonName)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// ParseCert returns the first certificate of a PEM.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("kubeproc: no CERTIFICATE block in the PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

// IssueServing returns a serving certificate and its key, both PEM, valid for the given
// IPs and DNS names, for validity.
func (c *CA) IssueServing(cn string, ips []net.IP, dns []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	return c.issue(cn, nil, validity, func(tmpl *x509.Certificate) {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses, tmpl.DNSNames = ips, dns
	})
}

// IssueClient returns a client certificate and its key, both PEM, for validity. A
// kube-apiserver that trusts c takes cn as the user name and groups (the subject's
// organizations) as the user's groups.
func (c *CA) IssueClient(cn string, groups []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	return c.issue(cn, groups, validity, func(tmpl *x509.Certificate) {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
}

func (c *CA) issue(cn string, orgs []string, validity time.Duration, set func(*x509.Certificate)) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if orgs == nil {
		orgs = []string{"atoll"}
	}
	tmpl, err := certTemplate(cn, orgs, validity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	set(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, key.Public(), c.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeproc: issuing the certificate of %s: %w", cn, err)
	}
	if keyPEM, err = privateKeyPEM(key); err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), keyPEM, nil
}

func certTemplate(cn string, orgs []string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}, nil
}

// NewServiceAccountKey returns the key pair, PEM, with which the apiserver signs service
// account tokens and the controller manager signs legacy ones.
func NewServiceAccountKey() (privPEM, pubPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if privPEM, err = privateKeyPEM(key); err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return privPEM, pemBlock("PUBLIC KEY", der), nil
}

func privateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
