package fedapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"atoll/deploy/kubeproc"
)

// name is the directory under Options.Dir holding the apiserver's files, and the name of
// the cluster in its kubeconfig.
const name = "fedapi"

// startTimeout bounds Start when ctx has no earlier deadline. etcd, the apiserver and
// the CRDs are ready in about 3 s on an idle 2-core machine.
const startTimeout = 3 * time.Minute

// serviceCIDR is --service-cluster-ip-range: nothing runs behind it, but the apiserver
// needs one; 10.0.0.1 is the kubernetes Service.
const serviceCIDR = "10.0.0.0/24"

// Front-proxy authentication: the apiserver takes the user of a request from these
// headers when, and only when, the client presents the certificate of FrontProxyCert.
const (
	FrontProxyName    = "atoll-front-proxy" // the certificate's CN, --requestheader-allowed-names
	UserHeader        = "X-Remote-User"     // the user name
	GroupHeader       = "X-Remote-Group"    // one group per header
	ExtraHeaderPrefix = "X-Remote-Extra-"   // X-Remote-Extra-<key>: extra user information
)

// Options describe a federation API server.
type Options struct {
	// Dir is the working directory: certificates, kubeconfig, logs, PID files and etcd's
	// data (see the package doc for the layout). Required. The caller removes it.
	Dir string
	// BinDir is the directory holding etcd and kube-apiserver (default:
	// kubeproc.BinDir, where `make kube` builds them).
	BinDir string
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
	// Port is the apiserver's port on 127.0.0.1; Start fails if it is taken. Default: the
	// port of the previous Start on Dir if it is free (not Ephemeral), else a free port.
	Port int
	// Ephemeral is for tests: etcd runs without fsync (--unsafe-no-fsync) on a fresh data
	// directory that Stop removes, and every certificate, key and token is new. By
	// default (false) the server is durable: etcd's data stays in Dir/etcd-data across
	// Stop and Start, fsynced, and the certificates, keys and admin token in Dir are
	// reused, so kubeconfigs written before a restart still work.
	Ephemeral bool
}

// Validate reports the first invalid field; it changes nothing.
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("fedapi: Options.Dir is empty")
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("fedapi: Options.Port %d is not a TCP port", o.Port)
	}
	return nil
}

// Server is a running federation API server.
type Server struct {
	log        *slog.Logger
	url        string
	kubeconfig string
	creds      *credentials
	etcdData   string // removed by Stop if removeData
	removeData bool   // Options.Ephemeral

	// Set by Start before it returns; read by Stop.
	etcd, apiserver *kubeproc.Process
	stopOnce        sync.Once
}

// Start starts etcd and kube-apiserver, installs Karmada's policy CRDs and returns once
// every CRD is Established. On error it stops whatever it started.
func Start(ctx context.Context, o Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := logger(o)
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = kubeproc.BinDir("etcd", "kube-apiserver"); err != nil {
			return nil, fmt.Errorf("fedapi: %w", err)
		}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	begin := time.Now()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	p, err := pickPorts(log, filepath.Join(dir, "ports.json"), o)
	if err != nil {
		return nil, err
	}
	etcdData := filepath.Join(dir, "etcd-data")
	if o.Ephemeral {
		if etcdData, err = os.MkdirTemp(dir, "etcd-data-"); err != nil {
			return nil, fmt.Errorf("fedapi: %w", err)
		}
	}
	etcd, api := specs(dir, bin, p, etcdData, o.Ephemeral)
	s, err := prepare(log, api, !o.Ephemeral)
	if err != nil {
		return nil, err
	}
	s.etcdData, s.removeData = etcdData, o.Ephemeral
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()
	if s.etcd, err = etcd.Start(ctx, log); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	c, err := kubeproc.NewClient(s.url, s.creds.caPEM, s.creds.adminToken)
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	defer c.Close()
	if s.apiserver, err = api.Start(ctx, log, c); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	if err := installCRDs(ctx, c); err != nil {
		return nil, err
	}
	ok = true
	log.Info("federation API server ready", "url", s.url, "kubeconfig", s.kubeconfig,
		"ephemeral", o.Ephemeral, "took", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// Ports of a server whose etcd and apiserver run beside the site, started by something
// else with PodArgs: the containers of the site's pod in the Helm chart, which share its
// loopback.
const (
	PodAPIServerPort  = 6443
	PodEtcdClientPort = 2379
	PodEtcdPeerPort   = 2380
)

// podPorts are the ports PodArgs and Attach use.
var podPorts = ports{APIServer: PodAPIServerPort, EtcdClient: PodEtcdClientPort, EtcdPeer: PodEtcdPeerPort}

// PodArgs returns the arguments of etcd and of kube-apiserver for a server whose files
// are under dir (an absolute path) and which Attach will attach to: durable, on the Pod
// ports. Prepare(dir) must have run before they start.
func PodArgs(dir string) (etcd, apiserver []string) {
	e, a := specs(dir, "", podPorts, filepath.Join(dir, "etcd-data"), false)
	return e.Args(), a.Args()
}

// Prepare writes, or keeps, the certificates, keys and tokens under dir that the
// processes of PodArgs(dir) read: what an init container does before they start.
func Prepare(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("fedapi: Prepare: %q is not an absolute path", dir)
	}
	_, api := specs(dir, "", podPorts, filepath.Join(dir, "etcd-data"), false)
	_, err := prepare(slog.New(slog.DiscardHandler), api, true)
	return err
}

// Attach is Start for an etcd and kube-apiserver run by something else with
// PodArgs(o.Dir): it prepares the PKI as Prepare does (normally done already), waits
// until the apiserver is ready, installs the CRDs and waits until they are Established.
// Stop then stops nothing. Options.BinDir, Port and Ephemeral do not apply.
func Attach(ctx context.Context, o Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Ephemeral || o.Port != 0 || o.BinDir != "" {
		return nil, errors.New("fedapi: Attach: BinDir, Port and Ephemeral are Start's options")
	}
	log := logger(o)
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	begin := time.Now()
	_, api := specs(dir, "", podPorts, filepath.Join(dir, "etcd-data"), false)
	s, err := prepare(log, api, true)
	if err != nil {
		return nil, err
	}
	c, err := kubeproc.NewClient(s.url, s.creds.caPEM, s.creds.adminToken)
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	defer c.Close()
	err = kubeproc.Poll(ctx, "the apiserver at "+s.url, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		err := c.OK(ctx, "/readyz")
		return err == nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	if err := installCRDs(ctx, c); err != nil {
		return nil, err
	}
	log.Info("federation API server attached", "url", s.url, "kubeconfig", s.kubeconfig,
		"took", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// specs are how to run the etcd and the apiserver of a server in dir on ports p: the
// one place their flags are decided, for Start's processes and PodArgs' containers.
func specs(dir, bin string, p ports, etcdData string, noFsync bool) (kubeproc.Etcd, kubeproc.APIServer) {
	etcd := kubeproc.Etcd{
		Bin:        filepath.Join(bin, "etcd"),
		Name:       "atoll-fedapi",
		DataDir:    etcdData,
		ClientPort: p.EtcdClient,
		PeerPort:   p.EtcdPeer,
		LogPath:    filepath.Join(dir, "etcd.log"),
		PIDPath:    filepath.Join(dir, "etcd.pid"),
		NoFsync:    noFsync,
	}
	api := kubeproc.APIServer{
		Bin:         filepath.Join(bin, "kube-apiserver"),
		Name:        name + "/kube-apiserver",
		Dir:         filepath.Join(dir, name),
		Port:        p.APIServer,
		EtcdURL:     etcd.URL(),
		ServiceCIDR: serviceCIDR,
	}
	api.Extra = []string{
		"--authorization-mode=RBAC",
		"--requestheader-client-ca-file=" + api.Path("pki", frontProxyCACert),
		"--requestheader-allowed-names=" + FrontProxyName,
		"--requestheader-username-headers=" + UserHeader,
		"--requestheader-group-headers=" + GroupHeader,
		"--requestheader-extra-headers-prefix=" + ExtraHeaderPrefix,
	}
	return etcd, api
}

// prepare writes the PKI and the admin kubeconfig of api and returns the Server that
// will use them, with no process yet.
func prepare(log *slog.Logger, api kubeproc.APIServer, reuse bool) (*Server, error) {
	if err := os.MkdirAll(api.Path("pki"), 0o700); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	s := &Server{log: log, url: api.URL(), kubeconfig: api.Path("admin.kubeconfig")}
	var err error
	if s.creds, err = setUpPKI(api.Path("pki"), reuse); err != nil {
		return nil, err
	}
	if err := kubeproc.WriteKubeconfig(s.kubeconfig, name, s.url, s.creds.caPEM, "admin", s.creds.adminToken); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	return s, nil
}

func logger(o Options) *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// withStartTimeout bounds ctx by startTimeout unless it has a deadline already.
func withStartTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, startTimeout, fmt.Errorf("fedapi: Start took over %v", startTimeout))
}

// Kubeconfig returns the path of a kubeconfig with an admin token (group system:masters).
func (s *Server) Kubeconfig() string { return s.kubeconfig }

// URL returns the apiserver's address, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// CAPEM returns the certificate, PEM, of the CA that signed the apiserver's serving
// certificate: what a client of URL trusts.
func (s *Server) CAPEM() []byte { return bytes.Clone(s.creds.caPEM) }

// FrontProxyCert returns the client certificate, and its key, of a front proxy: a client
// presenting it is trusted to name the user of each request in the headers UserHeader,
// GroupHeader and ExtraHeaderPrefix*, and RBAC authorizes that user. Whoever holds it
// can act as any user, system:masters included: it must stay in the site's process.
func (s *Server) FrontProxyCert() tls.Certificate { return s.creds.frontProxy }

// Stop stops the apiserver, then etcd (an apiserver whose etcd is gone hangs in
// shutdown), and, if Ephemeral, removes etcd's data. It reports a process that could not
// be stopped or had exited before being asked to. Calling it again, or concurrently,
// does nothing and returns nil (once the first call has returned).
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		err = kubeproc.StopInOrder(s.log, []*kubeproc.Process{s.apiserver}, []*kubeproc.Process{s.etcd})
		if s.removeData && s.etcdData != "" {
			err = errors.Join(err, os.RemoveAll(s.etcdData))
		}
	})
	return err
}

// ports are the ports a Start listens on, kept in Dir/ports.json for the next one.
type ports struct {
	APIServer  int `json:"apiserver"`
	EtcdClient int `json:"etcdClient"`
	EtcdPeer   int `json:"etcdPeer"`
}

// pickPorts returns Options.Port, or else the ports of the previous Start if free, or
// else free ones, and, unless Ephemeral, records them in path.
func pickPorts(log *slog.Logger, path string, o Options) (ports, error) {
	var prev ports
	if !o.Ephemeral {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return ports{}, fmt.Errorf("fedapi: %w", err)
		default:
			if err := json.Unmarshal(b, &prev); err != nil {
				return ports{}, fmt.Errorf("fedapi: %s: %w", path, err)
			}
		}
	}
	if o.Port != 0 {
		prev.APIServer = o.Port
	}
	got, err := kubeproc.PickPorts([]int{prev.APIServer, prev.EtcdClient, prev.EtcdPeer})
	if err != nil {
		return ports{}, fmt.Errorf("fedapi: %w", err)
	}
	if o.Port != 0 && got[0] != o.Port {
		return ports{}, fmt.Errorf("fedapi: Options.Port %d is taken", o.Port)
	}
	p := ports{APIServer: got[0], EtcdClient: got[1], EtcdPeer: got[2]}
	if prev.APIServer != 0 && p.APIServer != prev.APIServer {
		log.Warn("the previous port is taken: the apiserver moves, kubeconfigs naming the old one fail",
			"previous", prev.APIServer, "port", p.APIServer)
	}
	if o.Ephemeral {
		return p, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return ports{}, err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return ports{}, fmt.Errorf("fedapi: %w", err)
	}
	return p, nil
}
