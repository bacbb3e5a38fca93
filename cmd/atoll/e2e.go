//go:build !release

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"atoll/e2e"
	"atoll/e2e/netlab"
	"atoll/site"
)

func newE2ECmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Run end-to-end scenarios with real site processes on this machine",
	}
	cmd.AddCommand(newE2EConvergeCmd(), newE2ELatencyCmd(), newE2EIdleCmd(), newE2EDetectCmd(), newE2EWANCmd(), newE2EKubeCmd(), newE2EKubeAPICmd(), newE2EFailoverCmd(), newE2EScaleFailoverCmd(), newE2EFootprintCmd(), newE2EUpgradeCmd(), newE2EViewCmd())
	return cmd
}

// e2eFlags are the options every scenario shares.
type e2eFlags struct {
	sites    int
	dir      string
	netns    bool
	profile  string
	member   site.MembershipConfig
	probe    time.Duration
	timeout  time.Duration
	gossip   time.Duration
	logLevel string
	perProc  int
}

func (f *e2eFlags) bind(cmd *cobra.Command, sites int) { f.bindProfile(cmd, sites, "local") }

// bindProfile is bind with another default profile.
func (f *e2eFlags) bindProfile(cmd *cobra.Command, sites int, profile string) {
	cmd.Flags().IntVar(&f.sites, "sites", sites, "site processes to start")
	cmd.Flags().StringVar(&f.dir, "dir", "", "working directory (default: a new temporary one, removed afterwards)")
	cmd.Flags().BoolVar(&f.netns, "netns", false, "run each site in its own network namespace and partition with nftables (root)")
	cmd.Flags().StringVar(&f.profile, "profile", profile, "memberlist profile of the sites: wan, wan-legacy, lan or local")
	cmd.Flags().DurationVar(&f.probe, "probe-interval", 0, "override the profile's probe interval")
	cmd.Flags().DurationVar(&f.timeout, "probe-timeout", 0, "override the profile's probe timeout")
	cmd.Flags().IntVar(&f.member.SuspicionMult, "suspicion-mult", 0, "override the profile's suspicion multiplier")
	cmd.Flags().IntVar(&f.member.SuspicionMaxTimeoutMult, "suspicion-max-mult", 0, "override the profile's suspicion max timeout multiplier")
	cmd.Flags().DurationVar(&f.gossip, "gossip-interval", 0, "override the profile's gossip interval")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "every site's --log-level (debug, info, warn, error; default info)")
	cmd.Flags().IntVar(&f.perProc, "per-process", 1, "sites per process: above 1, the sites run that many to an atoll sites process (for latency, idle and converge; a scenario that kills, stops or restarts one site needs 1, and so does --netns)")
}

// options prepares the working directory and, with --netns, the lab. cleanup undoes both.
func (f *e2eFlags) options() (o e2e.Options, cleanup func(), err error) {
	if f.perProc < 1 {
		return o, nil, fmt.Errorf("--per-process %d: want 1 or more", f.perProc)
	}
	if f.perProc > 1 && f.netns {
		return o, nil, fmt.Errorf("--per-process %d: --netns puts each site in a namespace of its own, so needs --per-process 1", f.perProc)
	}
	self, err := os.Executable()
	if err != nil {
		return o, nil, err
	}
	dir, temp := f.dir, f.dir == ""
	if temp {
		if dir, err = os.MkdirTemp("", "atoll-e2e-"); err != nil {
			return o, nil, err
		}
	}
	o = e2e.Options{Sites: f.sites, Dir: dir, Binary: self, Profile: f.profile, LogLevel: f.logLevel, PerProcess: f.perProc}
	m := f.member
	m.ProbeInterval, m.ProbeTimeout = site.Duration(f.probe), site.Duration(f.timeout)
	m.GossipInterval = site.Duration(f.gossip)
	if m != (site.MembershipConfig{}) {
		o.Tune = func(_ int, c *site.Config) { c.Membership = m }
	}
	var lab *netlab.Lab
	if f.netns {
		if ok, why := netlab.Available(); !ok {
			return o, nil, fmt.Errorf("--netns: %s", why)
		}
		if lab, err = netlab.Create(fmt.Sprintf("atl%d", os.Getpid()%100000), f.sites); err != nil {
			return o, nil, err
		}
		o.Lab = lab
	}
	return o, func() {
		if lab != nil {
			lab.Close()
		}
		if temp {
			os.RemoveAll(dir)
		}
	}, nil
}

func newE2EConvergeCmd() *cobra.Command {
	var fl e2eFlags
	var partition time.Duration
	var rate float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "converge",
		Short: "Split the federation in two, write on both sides, heal, and measure convergence",
		Example: `  atoll e2e converge --sites 5 --json
  atoll e2e converge --sites 5 --partition 60s --netns --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, cleanup, err := fl.options()
			if err != nil {
				return err
			}
			defer cleanup()
			rep, err := e2e.RunConverge(cmd.Context(), e2e.ConvergeOptions{Options: o, Partition: partition, Rate: rate})
			if err != nil {
				rep.Error = err.Error()
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.Marshal(rep)
				fmt.Fprintln(out, string(b))
			} else {
				fmt.Fprintf(out, "%d sites (%s partition), %d acknowledged writes over %d ms apart\n", rep.Sites, rep.PartitionKind, rep.Writes, rep.PartitionedMs)
				fmt.Fprintf(out, "converged %d ms after heal: digests equal %v, lost acknowledged writes %d\n", rep.ConvergeAfterHealMs, rep.DigestsEqual, rep.LostAcknowledgedWrites)
				fmt.Fprintf(out, "heal: %d sessions, %d bytes for %d bytes of changes (%.2fx); logs in %s\n", rep.SyncSessions, rep.SyncBytes, rep.SyncPayloadBytes, rep.SyncOverPayload, filepath.Clean(o.Dir))
			}
			if rep.Error != "" {
				return fmt.Errorf("converge: %s", rep.Error)
			}
			if !rep.DigestsEqual || rep.LostAcknowledgedWrites > 0 {
				return fmt.Errorf("converge: digests equal %v, %d acknowledged writes lost", rep.DigestsEqual, rep.LostAcknowledgedWrites)
			}
			return nil
		},
	}
	fl.bind(cmd, 5)
	cmd.Flags().DurationVar(&partition, "partition", 10*time.Second, "how long the federation stays split")
	cmd.Flags().Float64Var(&rate, "rate", 5, "writes per second per site while split")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object as the last line")
	return cmd
}
