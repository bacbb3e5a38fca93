package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newSitesCmd() *cobra.Command {
	var lf logFlags
	var logDir string
	cmd := &cobra.Command{
		Use:   "sites CONFIG|DIR...",
		Short: "Run several sites in one process, each as atoll site runs it (many sites on one machine)",
		Long: `Sites runs one site for each site.yaml given, or found (*.yaml) in each directory given,
all in one process. Each site is what atoll site --config makes of its file: its own
identity, data directory, API socket, listener (the TLS transport and memberlist's
packets), memberlist, HTTP server and metrics registry. They share only the Go runtime:
/metrics reports each site's own counts, but the process_* and go_* series are the
process's, shared by its sites.

It is for running many sites on one machine, where one process per site would spend the
CPU on as many Go runtimes (benchmarks of 100 sites on 2 cores: e2e --per-process). A
site that cannot open or start ends the process: every site is stopped and the error
names the site. SIGINT or SIGTERM stops every site. One site cannot be stopped alone;
run it with atoll site for that.

Logs go to stderr, each line with site=<name>; with --log-dir, each site logs to
<log-dir>/<config file name without .yaml>.log instead.`,
		Example: `  atoll sites us-east/site.yaml eu-west/site.yaml
  atoll sites --log-dir /var/log/atoll /etc/atoll/sites/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths, err := sitesConfigs(args)
			if err != nil {
				return err
			}
			return runSites(paths, lf, logDir)
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVar(&logDir, "log-dir", "", "write each site's log to <dir>/<config name>.log instead of stderr")
	return cmd
}

// sitesConfigs expands the arguments of atoll sites: a file is a site.yaml, a directory
// holds several (*.yaml, in name order).
func sitesConfigs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		found, err := filepath.Glob(filepath.Join(a, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml in the directory", a)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// hosted is one site of atoll sites.
type hosted struct {
	path string
	cfg  site.Config
	log  *slog.Logger
	out  io.Closer // its log file, if any
	s    *site.Site
}

func (h *hosted) String() string { return fmt.Sprintf("site %s (%s)", h.cfg.Name, h.path) }

// runSites opens every site, runs them all until SIGINT or SIGTERM, or until one stops
// by itself, and stops them all.
func runSites(paths []string, lf logFlags, logDir string) (err error) {
	hs, err := openSites(paths, lf, logDir)
	defer func() {
		for _, h := range hs {
			if h.out != nil {
				h.out.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if lf.cpuProfile != "" { // one profile of the whole process
		done := make(chan struct{})
		go func() { defer close(done); profileOnSignal(ctx, lf.cpuProfile, hs[0].log) }()
		defer func() { <-done }()
		defer stop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type ended struct {
		h   *hosted
		err error
	}
	ends := make(chan ended, len(hs))
	for _, h := range hs {
		go func() { ends <- ended{h, h.s.Run(ctx)} }()
	}
	// The first site to end before the signal ends them all: it failed to start, or failed.
	var errs []error
	for range hs {
		e := <-ends
		if ctx.Err() == nil {
			cancel()
			if e.err == nil {
				e.err = errors.New("stopped by itself")
			}
			errs = append([]error{fmt.Errorf("%s: %w; stopping the other sites", e.h, e.err)}, errs...)
			continue
		}
		if e.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.h, e.err))
		}
	}
	return errors.Join(errs...)
}

// openSites reads, checks and opens every site; on error it closes those it opened and
// names the site at fault. The log files it opened are returned even then.
func openSites(paths []string, lf logFlags, logDir string) ([]*hosted, error) {
	var hs []*hosted
	fail := func(err error) ([]*hosted, error) {
		for _, h := range hs {
			if h.s != nil {
				h.s.Close()
			}
		}
		return hs, err
	}
	logs, listens, data := map[string]string{}, map[string]string{}, map[string]string{}
	for _, p := range paths {
		cfg, err := siteFlags{config: p}.load()
		if err != nil {
			return fail(err)
		}
		h := &hosted{path: p, cfg: cfg}
		// What two sites cannot share, named before either touches it.
		dd := cfg.Path(cfg.DataDir)
		listen := cfg.Listen
		if strings.HasSuffix(listen, ":0") {
			listen = p // a port picked at start: never the same
		}
		for _, c := range []struct {
			seen map[string]string
			key  string
			what string
		}{{listens, listen, "listen address"}, {data, dd, "data directory"}} {
			if other, ok := c.seen[c.key]; ok {
				return fail(fmt.Errorf("%s and %s have the same %s %s", other, p, c.what, c.key))
			}
			c.seen[c.key] = p
		}
		w := io.Writer(os.Stderr)
		if logDir != "" {
			lp := filepath.Join(logDir, strings.TrimSuffix(filepath.Base(p), ".yaml")+".log")
			if other, ok := logs[lp]; ok {
				return fail(fmt.Errorf("%s and %s would log to the same %s: rename one", other, p, lp))
			}
			logs[lp] = p
			f, err := os.OpenFile(lp, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return fail(err)
			}
			w, h.out = f, f
		}
		if h.log, err = lf.loggerTo(w, cfg.Name); err != nil {
			return fail(err)
		}
		hs = append(hs, h)
		if h.s, err = site.Open(cfg, h.log); err != nil {
			return fail(fmt.Errorf("%s: %w", h, err))
		}
	}
	return hs, nil
}
