//go:build !release

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"atoll/deploy/testenv"
	"atoll/e2e"
	"atoll/site"
)

// demoSites are the sites of the demo federation. Each runs two member clusters,
// <site>-1 labelled tier=prod and <site>-2 labelled tier=dev.
var demoSites = []e2e.SiteSpec{
	{Name: "us-east", Region: "us-east", Jurisdiction: "US"},
	{Name: "eu-west", Region: "eu-west", Jurisdiction: "EU"},
	{Name: "ap-south", Region: "ap-south", Jurisdiction: "APAC"},
}

// demoClusterTiers are the tier labels of each site's clusters, <site>-1, <site>-2, ...
var demoClusterTiers = []string{"prod", "dev"}

// demoOptions are the flags of atoll demo.
type demoOptions struct {
	dir     string        // working directory
	keep    bool          // keep dir on exit
	timeout time.Duration // bounds the start-up, until the workloads are ready
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a federation on this machine: 3 sites, 6 real Kubernetes clusters, sample workloads",
		Long: `Demo starts a whole federation on this machine and runs until Ctrl-C: three sites
(us-east in the US, eu-west in the EU, ap-south in APAC), each an atoll site process
with two member clusters of its own (real kube-apiserver, controller-manager and
scheduler, with kwok's fake nodes; make kube builds them). It applies the sample
workloads of examples/demo as the operator, waits until they are ready in the
clusters, and prints the dashboards, the files and commands to try from another
terminal: kill or partition a site and watch the others take over.

The working directory is wiped at start and removed on exit (--keep keeps it). Ctrl-C
stops the sites and the clusters and leaves no process behind.`,
		Example: `  make demo
  atoll demo --dir /tmp/my-demo --keep
  atoll demo kill us-east          # from another terminal, while the demo runs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			return runDemo(ctx, cmd.OutOrStdout(), o)
		},
	}
	cmd.PersistentFlags().StringVar(&o.dir, "dir", defaultDemoDir(), "working directory: wiped at start, removed on exit unless --keep")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "keep the working directory (configs, data, logs) on exit")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up if the workloads are not ready after this long")
	cmd.AddCommand(newDemoControlCmds(&o.dir)...)
	return cmd
}

// defaultDemoDir is the working directory without --dir: $TMPDIR/atoll-demo.
func defaultDemoDir() string { return filepath.Join(os.TempDir(), "atoll-demo") }

// demo is a running demo: what start started, which stop stops in reverse.
type demo struct {
	opts     demoOptions
	out      io.Writer
	self     string // this binary, which the sites run
	owned    bool   // the working directory is this demo's
	env      *testenv.Env
	fed      *e2e.Fed
	ctl      *http.Server
	observer string // the observer's dashboard URL
	phases   []demoPhase
}

// demoPhase is a step of the start-up and how long it took.
type demoPhase struct {
	name string
	took time.Duration
}

// runDemo starts the demo, prints the tour, waits for ctx to end (Ctrl-C), and stops
// everything. Interrupted during the start-up, it stops what it started and returns nil.
func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	d := &demo{opts: o, out: out, self: self}
	err = d.start(ctx)
	if err == nil {
		d.printTour()
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		fmt.Fprintln(out, "\nInterrupted: stopping the sites, then the clusters.")
		err = nil
	}
	return errors.Join(err, d.stop(err != nil))
}

// start runs the phases: clusters, sites, joins, workloads.
func (d *demo) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, d.opts.timeout,
		fmt.Errorf("demo: not ready after %v (--timeout); logs in %s", d.opts.timeout, d.opts.dir))
	defer cancel()
	wiped, err := prepareDemoDir(d.opts.dir)
	if err != nil {
		return err
	}
	d.owned = true
	fmt.Fprintf(d.out, "atoll demo: 3 sites, 6 Kubernetes clusters, 3 workloads, in %s\n", d.opts.dir)
	if wiped {
		fmt.Fprintln(d.out, "  (removed the files of a previous demo there)")
	}
	for _, p := range []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"clusters", d.startClusters},
		{"sites", d.startSites},
		{"joins", d.joinClusters},
		{"workloads", d.applyWorkloads},
		{"kubeapi", d.waitKubeAPI},
	} {
		begin := time.Now()
		what, err := p.run(ctx)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", p.name, err)
		}
		took := time.Since(begin)
		d.phases = append(d.phases, demoPhase{p.name, took})
		d.line(p.name, took, what)
	}
	return nil
}

// startClusters starts the six member clusters on one etcd.
func (d *demo) startClusters(ctx context.Context) (string, error) {
	var names []string
	for _, s := range demoSites {
		for k := range demoClusterTiers {
			names = append(names, s.Name+"-"+strconv.Itoa(k+1))
		}
	}
	d.line("clusters", 0, fmt.Sprintf("starting %d: kube-apiserver, controller-manager, scheduler and kwok each; one etcd", len(names)))
	env, err := testenv.Start(ctx, testenv.Options{
		Dir: filepath.Join(d.opts.dir, "clusters"), Clusters: len(names), Names: names,
		NodesPerCluster: 3, NodeCPU: "4", NodeMemory: "16Gi",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return "", err
	}
	d.env = env
	return fmt.Sprintf("%d up, each with 3 fake nodes of 4 CPU and 16Gi", len(names)), nil
}

// startSites writes the charter, keys and site configs, starts the three site processes
// and waits until each sees the others.
func (d *demo) startSites(ctx context.Context) (string, error) {
	addrs, err := demoHTTPAddrs(len(demoSites) + 1) // the last for the observer
	if err != nil {
		return "", err
	}
	fed, err := e2e.Start(ctx, e2e.Options{
		Sites: len(demoSites), Specs: demoSites, Federation: "demo", Observers: []string{"dashboard"},
		Dir: d.opts.dir, Binary: d.self, Profile: "local",
		Tune: func(i int, c *site.Config) {
			c.HTTP, c.Region, c.Jurisdiction = addrs[i], demoSites[i].Region, demoSites[i].Jurisdiction
			if i == demoKubeAPI {
				c.KubeAPI = &site.KubeAPIConfig{OperatorKey: "operator.key"}
			}
		},
	})
	if err != nil {
		return "", err
	}
	d.fed = fed
	if err := fed.WaitMembers(ctx); err != nil {
		return "", err
	}
	if err := fed.StartObserver(ctx, "dashboard", addrs[len(demoSites)]); err != nil {
		return "", err
	}
	d.observer = "http://" + addrs[len(demoSites)]
	if d.ctl, err = serveDemoControl(fed, d.opts.dir); err != nil {
		return "", err
	}
	if err := writeDemoContexts(d.opts.dir, fed); err != nil {
		return "", err
	}
	return "us-east (US), eu-west (EU), ap-south (APAC) up, each sees the others; an observer serves the global dashboard", nil
}

// joinClusters joins each site's clusters to it and waits until every site sees all six
// healthy.
func (d *demo) joinClusters(ctx context.Context) (string, error) {
	clusters := d.env.Clusters()
	for i, s := range demoSites {
		for k, tier := range demoClusterTiers {
			c := clusters[i*len(demoClusterTiers)+k]
			kc, err := os.ReadFile(c.AtollKubeconfig)
			if err != nil {
				return "", err
			}
			req := site.JoinRequest{Name: c.Name, Kubeconfig: string(kc), Labels: map[string]string{"tier": tier}}
			if err := d.fed.Client(i).JoinCluster(ctx, req); err != nil {
				return "", fmt.Errorf("joining %s to %s: %w", c.Name, s.Name, err)
			}
		}
	}
	err := demoPoll(ctx, func() (bool, error) {
		for i := range demoSites {
			for j, s := range demoSites {
				for k := range demoClusterTiers {
					name := clusters[j*len(demoClusterTiers)+k].Name
					obj, err := d.fed.Client(i).Object(ctx, "cluster", s.Name+"/"+name)
					if err != nil || obj["health"].Value != "healthy" {
						return false, fmt.Errorf("%s sees %s/%s: not healthy yet (%v)", d.fed.Names[i], s.Name, name, err)
					}
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return "6 clusters joined (<site>-1 tier=prod, <site>-2 tier=dev), healthy at every site", nil
}

// line prints a progress line: the phase, how long it took (if done) and what happened.
func (d *demo) line(phase string, took time.Duration, msg string) {
	t := ""
	if took > 0 {
		t = took.Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(d.out, "%-10s %6s  %s\n", phase, t, msg)
}

// stop stops the control socket, the sites, then the clusters, and removes the working
// directory unless --keep or the start-up failed (its logs tell why).
func (d *demo) stop(failed bool) error {
	if !d.owned {
		return nil
	}
	begin := time.Now()
	var errs []error
	if d.ctl != nil {
		errs = append(errs, d.ctl.Close())
	}
	if d.fed != nil {
		errs = append(errs, d.fed.Stop())
	}
	if d.env != nil {
		errs = append(errs, d.env.Stop())
	}
	err := errors.Join(errs...)
	if d.fed != nil || d.env != nil {
		fmt.Fprintf(d.out, "Stopped the sites and the clusters in %s.\n", time.Since(begin).Round(100*time.Millisecond))
	}
	switch {
	case d.opts.keep || failed || err != nil:
		fmt.Fprintf(d.out, "Kept %s (the next demo there wipes it).\n", d.opts.dir)
	default:
		err = os.RemoveAll(d.opts.dir)
		fmt.Fprintf(d.out, "Removed %s (--keep keeps it).\n", d.opts.dir)
	}
	return err
}
