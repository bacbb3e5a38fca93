package fedapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"atoll/deploy/testenv"
)

// name is the cluster name deploy/testenv gives the apiserver: its files are under
// Dir/name.
const name = "fedapi"

// crdTimeout bounds the wait for the CRDs when ctx has no earlier deadline. They are
// Established about a second after the apiserver is ready on an idle 2-core machine.
const crdTimeout = time.Minute

// Options describe a federation API server.
type Options struct {
	// Dir is the working directory: certificates, kubeconfig, logs, PID files, and etcd's
	// data while it runs. Required. The caller removes it.
	Dir string
	// BinDir is the directory holding etcd and kube-apiserver (default: testenv.BinDir(),
	// where `make kube` builds them).
	BinDir string
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
}

// Validate reports the first invalid field; it changes nothing.
func (o Options) Validate() error {
	if o.Dir == "" {
		return errors.New("fedapi: Options.Dir is empty")
	}
	return nil
}

// Server is a running federation API server.
type Server struct {
	env        *testenv.Env
	url        string
	kubeconfig string
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
	begin := time.Now()
	env, err := testenv.Start(ctx, testenv.Options{
		Dir:           o.Dir,
		Clusters:      1,
		Names:         []string{name},
		BinDir:        o.BinDir,
		APIServerOnly: true,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	c := env.Clusters()[0]
	s := &Server{env: env, url: c.APIServer, kubeconfig: c.Kubeconfig}
	if err := s.installCRDs(ctx); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	log.Info("federation API server ready", "url", s.url, "kubeconfig", s.kubeconfig,
		"took", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// Kubeconfig returns the path of a kubeconfig with an admin token (group system:masters).
func (s *Server) Kubeconfig() string { return s.kubeconfig }

// URL returns the apiserver's address, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// Stop stops the apiserver, then etcd, and removes etcd's data. It reports a process
// that could not be stopped or had exited before being asked to. Calling it again does
// nothing.
func (s *Server) Stop() error { return s.env.Stop() }
