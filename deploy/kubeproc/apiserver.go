package kubeproc

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
)

// APIServer is how to run a kube-apiserver on loopback, with the files of a PKI
// directory (the names of pki.go) under Dir/pki, its log and PID file in Dir.
type APIServer struct {
	Bin  string // path of the kube-apiserver binary
	Name string // for the logs: "<cluster>/kube-apiserver"
	Dir  string // Dir/pki holds the PKI files; Dir/kube-apiserver.log|.pid
	Port int    // --secure-port, on 127.0.0.1

	EtcdURL    string // --etcd-servers
	EtcdPrefix string // --etcd-prefix (default: the apiserver's, /registry)
	// ServiceCIDR is --service-cluster-ip-range; its first address is the kubernetes
	// Service's, which the serving certificate should name.
	ServiceCIDR string
	// Extra are more flags: authorization, admission, request-header authentication.
	Extra []string
}

// Path returns the path of a file under Dir.
func (a APIServer) Path(elem ...string) string {
	return filepath.Join(append([]string{a.Dir}, elem...)...)
}

// URL is https://127.0.0.1:Port.
func (a APIServer) URL() string { return LocalURL(a.Port) }

// LocalURL is https://127.0.0.1:port.
func LocalURL(port int) string { return "https://127.0.0.1:" + strconv.Itoa(port) }

// Args are the apiserver's flags: serving on 127.0.0.1 with the serving certificate,
// client certificates of the CA and the bearer tokens of the token file, service account
// tokens signed with the PKI's key; then Extra.
func (a APIServer) Args() []string {
	args := []string{
		"--etcd-servers=" + a.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(a.Port),
		"--endpoint-reconciler-type=none", // otherwise a loopback advertise address is fatal
		"--tls-cert-file=" + a.Path("pki", ServingCertFile),
		"--tls-private-key-file=" + a.Path("pki", ServingKeyFile),
		"--client-ca-file=" + a.Path("pki", CACertFile),
		"--token-auth-file=" + a.Path("pki", TokenFile),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + a.Path("pki", SAPubFile),
		"--service-account-signing-key-file=" + a.Path("pki", SAKeyFile),
		"--service-cluster-ip-range=" + a.ServiceCIDR,
		"--cert-dir=" + a.Path("pki"),
	}
	if a.EtcdPrefix != "" {
		args = append(args, "--etcd-prefix="+a.EtcdPrefix)
	}
	return append(args, a.Extra...)
}

// Start starts the apiserver and waits until c (a client of URL that trusts the CA)
// finds it ready (/readyz). The process is returned, to be stopped, whenever it started,
// even with an error.
func (a APIServer) Start(ctx context.Context, log *slog.Logger, c *Client) (*Process, error) {
	p, err := Spawn(log, a.Name, a.Path("kube-apiserver.log"), a.Path("kube-apiserver.pid"), a.Bin, a.Args()...)
	if err != nil {
		return p, err
	}
	return p, WaitHealthy(ctx, p, c, "/readyz")
}
