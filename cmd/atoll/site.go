package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newSiteCmd() *cobra.Command {
	var sf siteFlags
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "site --config site.yaml",
		Short: "Run a site: join the federation, replicate its state, serve the local API",
		Example: `  atoll site --config us-east/site.yaml
  atoll site --config us-east/site.yaml --log-format json --log-level debug
  # one replica of a StatefulSet whose pods share one site.yaml (deploy/helm/atoll):
  atoll site --config /etc/atoll/site.yaml --replica-id "$POD_NAME" --advertise "$POD_IP:7946"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			return runDaemon(cfg, lf)
		},
	}
	sf.add(cmd)
	lf.add(cmd)
	return cmd
}

// siteFlags are the flags that choose and complete a site.yaml: what differs between the
// replicas of one site that share one file (a Kubernetes ConfigMap) is given on the
// command line.
type siteFlags struct {
	config    string
	replicaID string // overrides replica.id
	advertise string // overrides advertise
}

func (f *siteFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", "site.yaml", "the site's configuration file")
	cmd.Flags().StringVar(&f.replicaID, "replica-id", "", "this replica's id, one of replica.peers (overrides replica.id; needs a replica section)")
	cmd.Flags().StringVar(&f.advertise, "advertise", "", "ip:port other sites reach this process at (overrides advertise, and replica.peers[].advertise of this replica; needed when listen is 0.0.0.0)")
}

// load reads the file, applies the flags and validates the result.
func (f siteFlags) load() (site.Config, error) {
	cfg, err := site.ReadConfig(f.config)
	if err != nil {
		return cfg, err
	}
	if f.replicaID != "" {
		if cfg.Replica == nil {
			return cfg, fmt.Errorf("--replica-id %s: %s has no replica section", f.replicaID, f.config)
		}
		rc := *cfg.Replica
		rc.ID = f.replicaID
		cfg.Replica = &rc
	}
	if f.advertise != "" { // wins over the file's, the site's and this replica's
		cfg.Advertise = f.advertise
		if cfg.Replica != nil {
			rc := *cfg.Replica
			rc.Peers = slices.Clone(rc.Peers)
			for i := range rc.Peers {
				if rc.Peers[i].ID == rc.ID {
					rc.Peers[i].Advertise = ""
				}
			}
			cfg.Replica = &rc
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("site config %s with flags: %w", f.config, err)
	}
	if err := cfg.Runnable(); err != nil {
		return cfg, fmt.Errorf("site config %s: %w", f.config, err)
	}
	return cfg, nil
}

// logFlags choose the daemon's log/slog handler, and where it writes a CPU profile.
type logFlags struct{ level, format, cpuProfile string }

func (f *logFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.level, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&f.format, "log-format", "text", "text (key=value) or json")
	cmd.Flags().StringVar(&f.cpuProfile, "cpu-profile", "", "on SIGUSR1 start a CPU profile, and on the next write it to this file (go tool pprof; for benchmarks)")
}

func (f logFlags) logger(name string) (*slog.Logger, error) { return f.loggerTo(os.Stderr, name) }

// loggerTo is logger writing to w.
func (f logFlags) loggerTo(w io.Writer, name string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(f.level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch f.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)).With("site", name), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)).With("site", name), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.format)
}

// runDaemon runs a site or observer until SIGINT or SIGTERM.
func runDaemon(cfg site.Config, lf logFlags) error {
	log, err := lf.logger(cfg.Name)
	if err != nil {
		return err
	}
	s, err := site.Open(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if lf.cpuProfile != "" {
		done := make(chan struct{})
		go func() { defer close(done); profileOnSignal(ctx, lf.cpuProfile, log) }()
		defer func() { <-done }() // a profile still running is written before the process exits
		defer stop()
	}
	return s.Run(ctx)
}

// profileOnSignal profiles the process's CPU between two SIGUSR1s, writing each profile to
// path (the last replaces the one before), until ctx ends.
func profileOnSignal(ctx context.Context, path string, log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	var f *os.File
	for {
		select {
		case <-ctx.Done():
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
			}
			return
		case <-sig:
		}
		if f != nil {
			pprof.StopCPUProfile()
			err := f.Close()
			f = nil
			log.Info("CPU profile written", "file", path, "err", err)
			continue
		}
		var err error
		if f, err = os.Create(path); err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
				f = nil
			}
		}
		log.Info("CPU profile started", "file", path, "err", err)
	}
}
