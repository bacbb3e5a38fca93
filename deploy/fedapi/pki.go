package fedapi

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"atoll/deploy/kubeproc"
)

// Files of Dir/fedapi/pki besides those of package kubeproc (ca.crt, serving.crt, ...).
const (
	frontProxyCACert     = "front-proxy-ca.crt"     // --requestheader-client-ca-file
	frontProxyCAKey      = "front-proxy-ca.key"     // its key, which signs the client's
	frontProxyClientCert = "front-proxy-client.crt" // FrontProxyCert, CN FrontProxyName
	frontProxyClientKey  = "front-proxy-client.key"
	adminTokenFile       = "admin.token" // the admin's bearer token, in tokens.csv too
)

// Validity of what setUpPKI makes. A certificate is issued anew at a Start that finds
// it within renewBefore of its end; a CA is never, as clients trust it.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// credentials are what clients of the apiserver need.
type credentials struct {
	caPEM      []byte          // the CA of the serving certificate
	adminToken string          // a system:masters bearer token
	frontProxy tls.Certificate // FrontProxyCert
}

// setUpPKI writes the apiserver's CA, serving certificate, service account keys,
// front-proxy CA and client certificate, and token file into dir. With reuse it keeps
// each that is already there and still valid (a certificate is issued anew if its CA is
// new or it is near its end); a file it cannot read is an error, never replaced, since
// replacing a CA would lock out every client that trusts it.
func setUpPKI(dir string, reuse bool) (*credentials, error) {
	path := func(f string) string { return filepath.Join(dir, f) }
	ca, newCA, err := loadOrNewCA(path(kubeproc.CACertFile), path(kubeproc.CAKeyFile), name+"-ca", reuse)
	if err != nil {
		return nil, err
	}
	_, err = loadOrIssue(path(kubeproc.ServingCertFile), path(kubeproc.ServingKeyFile), ca, reuse && !newCA,
		x509.ExtKeyUsageServerAuth, func() ([]byte, []byte, error) {
			return ca.IssueServing(name, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
				[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
				leafValidity)
		})
	if err != nil {
		return nil, err
	}
	if !reuse || !exists(path(kubeproc.SAKeyFile)) || !exists(path(kubeproc.SAPubFile)) {
		key, pub, err := kubeproc.NewServiceAccountKey()
		if err != nil {
			return nil, err
		}
		if err := writePair(path(kubeproc.SAKeyFile), key, path(kubeproc.SAPubFile), pub); err != nil {
			return nil, err
		}
	}
	fpCA, newFPCA, err := loadOrNewCA(path(frontProxyCACert), path(frontProxyCAKey), name+"-front-proxy-ca", reuse)
	if err != nil {
		return nil, err
	}
	fp, err := loadOrIssue(path(frontProxyClientCert), path(frontProxyClientKey), fpCA, reuse && !newFPCA,
		x509.ExtKeyUsageClientAuth, func() ([]byte, []byte, error) {
			return fpCA.IssueClient(FrontProxyName, nil, leafValidity)
		})
	if err != nil {
		return nil, err
	}

	var token string
	if reuse {
		b, err := os.ReadFile(path(adminTokenFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("fedapi: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		token = rand.Text()
		if err := os.WriteFile(path(adminTokenFile), []byte(token+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("fedapi: %w", err)
		}
	}
	users := []kubeproc.TokenUser{{Name: "admin", Groups: []string{"system:masters"}, Token: token}}
	if err := kubeproc.WriteTokenFile(path(kubeproc.TokenFile), users); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	return &credentials{caPEM: ca.CertPEM, adminToken: token, frontProxy: fp}, nil
}

// loadOrNewCA reads the CA in certPath and keyPath if reuse and they exist, or makes and
// writes a new one, reporting whether it did.
func loadOrNewCA(certPath, keyPath, cn string, reuse bool) (ca *kubeproc.CA, made bool, err error) {
	if reuse && (exists(certPath) || exists(keyPath)) {
		certPEM, err := os.ReadFile(certPath)
		if err != nil {
			return nil, false, fmt.Errorf("fedapi: %w", err)
		}
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, false, fmt.Errorf("fedapi: %w", err)
		}
		if ca, err = kubeproc.LoadCA(certPEM, keyPEM); err != nil {
			return nil, false, fmt.Errorf("fedapi: %s: %w", certPath, err)
		}
		return ca, false, nil
	}
	if ca, err = kubeproc.NewCA(cn, caValidity); err != nil {
		return nil, false, err
	}
	return ca, true, writePair(keyPath, ca.KeyPEM, certPath, ca.CertPEM)
}

// loadOrIssue returns the certificate in certPath and keyPath if reuse, they exist, ca
// signed it for usage and it is not within renewBefore of its end; else it issues one
// with issue and writes it.
func loadOrIssue(certPath, keyPath string, ca *kubeproc.CA, reuse bool, usage x509.ExtKeyUsage,
	issue func() (certPEM, keyPEM []byte, err error)) (tls.Certificate, error) {
	if reuse && exists(certPath) && exists(keyPath) {
		c, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("fedapi: %w", err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage},
			CurrentTime: time.Now().Add(renewBefore)})
		if err == nil {
			return c, nil
		}
		// Expiring, or from another CA: a new one.
	}
	certPEM, keyPEM, err := issue()
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(keyPath, keyPEM, certPath, certPEM); err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("fedapi: %w", err)
	}
	return c, nil
}

// writePair writes a key, then its certificate (or public key), mode 0600: a
// certificate on disk always has its key.
func writePair(keyPath string, keyPEM []byte, certPath string, certPEM []byte) error {
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("fedapi: %w", err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		return fmt.Errorf("fedapi: %w", err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
