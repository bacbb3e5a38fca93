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
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	api := kubeproc.APIServer{
		Bin:         filepath.Join(bin, "kube-apiserver"),
		Name:        name + "/kube-apiserver",
		Dir:         filepath.Join(dir, name),
		ServiceCIDR: serviceCIDR,
	}
	if err := os.MkdirAll(api.Path("pki"), 0o700); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, startTimeout,
			fmt.Errorf("fedapi: Start took over %v", startTimeout))
		defer cancel()
	}
	begin := time.Now()

	p, err := pickPorts(log, filepath.Join(dir, "ports.json"), o)
	if err != nil {
		return nil, err
	}
	api.Port = p.APIServer
	s := &Server{log: log, url: api.URL(), kubeconfig: api.Path("admin.kubeconfig"), removeData: o.Ephemeral}
	if s.creds, err = setUpPKI(api.Path("pki"), !o.Ephemeral); err != nil {
		return nil, err
	}
	if err := kubeproc.WriteKubeconfig(s.kubeconfig, name, s.url, s.creds.caPEM, "admin", s.creds.adminToken); err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()

	s.etcdData = filepath.Join(dir, "etcd-data")
	if o.Ephemeral {
		if s.etcdData, err = os.MkdirTemp(dir, "etcd-data-"); err != nil {
			return nil, fmt.Errorf("fedapi: %w", err)
		}
	}
	etcd := kubeproc.Etcd{
		Bin:        filepath.Join(bin, "etcd"),
		Name:       "atoll-fedapi",
		DataDir:    s.etcdData,
		ClientPort: p.EtcdClient,
		PeerPort:   p.EtcdPeer,
		LogPath:    filepath.Join(dir, "etcd.log"),
		PIDPath:    filepath.Join(dir, "etcd.pid"),
		NoFsync:    o.Ephemeral,
	}
	s.etcd, err = etcd.Start(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}

	api.EtcdURL = etcd.URL()
	api.Extra = []string{
		"--authorization-mode=RBAC",
		"--requestheader-client-ca-file=" + api.Path("pki", frontProxyCACert),
		"--requestheader-allowed-names=" + FrontProxyName,
		"--requestheader-username-headers=" + UserHeader,
		"--requestheader-group-headers=" + GroupHeader,
		"--requestheader-extra-headers-prefix=" + ExtraHeaderPrefix,
	}
	c, err := kubeproc.NewClient(s.url, s.creds.caPEM, s.creds.adminToken)
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	defer c.Close()
	s.apiserver, err = api.Start(ctx, log, c)
	if err != nil {
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
