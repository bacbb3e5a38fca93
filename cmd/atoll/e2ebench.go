//go:build !release

package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"atoll/e2e"
	"atoll/e2e/netlab"
)

// runJSON prepares a scenario's options, runs it and prints its report as one JSON line.
func (f *e2eFlags) runJSON(cmd *cobra.Command, run func(e2e.Options) (any, error)) error {
	o, cleanup, err := f.options()
	if err != nil {
		return err
	}
	defer cleanup()
	rep, err := run(o)
	if err != nil {
		if r, ok := rep.(interface{ Partial() bool }); ok && r.Partial() {
			_ = printJSON(cmd, rep) // what the run saw before it failed
		}
		return err
	}
	return printJSON(cmd, rep)
}

// printJSON writes v as one JSON line.
func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return nil
}

func newE2ELatencyCmd() *cobra.Command {
	var fl e2eFlags
	var writes int
	var gap time.Duration
	cmd := &cobra.Command{
		Use:     "latency",
		Short:   "Measure write-to-visible-everywhere latency (prints JSON)",
		Example: `  atoll e2e latency --sites 20 --writes 200`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunLatency(cmd.Context(), o, writes, gap) })
		},
	}
	fl.bind(cmd, 5)
	cmd.Flags().IntVar(&writes, "writes", 100, "changes to write, one at a time, at each site in turn")
	cmd.Flags().DurationVar(&gap, "gap", 50*time.Millisecond, "pause between writes")
	cmd.Flags().Bool("json", true, "print the report as one JSON line (always on)")
	return cmd
}

func newE2EIdleCmd() *cobra.Command {
	var fl e2eFlags
	var d time.Duration
	cmd := &cobra.Command{
		Use:     "idle",
		Short:   "Measure the bytes each site sends while nothing changes (prints JSON)",
		Example: `  atoll e2e idle --sites 20 --for 2m --profile wan`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunIdle(cmd.Context(), o, d) })
		},
	}
	fl.bind(cmd, 5)
	cmd.Flags().DurationVar(&d, "for", time.Minute, "how long to measure")
	cmd.Flags().Bool("json", true, "print the report as one JSON line (always on)")
	return cmd
}

func newE2EDetectCmd() *cobra.Command {
	var fl e2eFlags
	var trials int
	cmd := &cobra.Command{
		Use:     "detect",
		Short:   "Measure failure detection: kill -9 a site, time until no site lists it live (prints JSON)",
		Example: `  atoll e2e detect --sites 5 --trials 5 --profile wan`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunDetect(cmd.Context(), o, trials) })
		},
	}
	fl.bind(cmd, 5)
	cmd.Flags().IntVar(&trials, "trials", 5, "sites to kill, one after another")
	return cmd
}

func newE2EWANCmd() *cobra.Command {
	var fl e2eFlags
	var im netlab.Impairment
	var watch time.Duration
	var trials int
	cmd := &cobra.Command{
		Use:   "wan",
		Short: "Measure false failure detection behind a lossy WAN, then detection of real deaths on it (prints JSON; root)",
		Long: `Wan runs the sites in network namespaces (--netns is implied) whose every link drops
--loss of the packets and delays each by --delay ± --jitter one way. With every site alive
for --for, it counts in the sites' logs memberlist's suspicions of live sites, its deaths
of live sites, and the live sites that lost a live peer ("peer gone": their scheduling
passes then take over its share). site_hours = sites x minutes / 60 is the exposure: each
site is probed about once per probe interval whatever the number of sites. Then --trials
kill -9 trials measure detection on the same links. The profile defaults to wan, the
sites' own default.`,
		Example: `  atoll e2e wan --sites 10 --for 6m --trials 3
  atoll e2e wan --sites 5 --for 5m --profile wan-legacy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl.netns = true
			if err := im.Validate(); err != nil {
				return fmt.Errorf("--loss, --delay, --jitter: %w", err)
			}
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunWAN(cmd.Context(), o, im, watch, trials) })
		},
	}
	fl.bindProfile(cmd, 5, "wan")
	cmd.Flags().Float64Var(&im.Loss, "loss", 0.05, "fraction of packets dropped on each link, each direction")
	cmd.Flags().DurationVar(&im.Delay, "delay", 75*time.Millisecond, "one-way delay of each link (the round trip is twice this)")
	cmd.Flags().DurationVar(&im.Jitter, "jitter", 15*time.Millisecond, "each packet's delay is spread uniformly over delay ± jitter")
	cmd.Flags().DurationVar(&watch, "for", 5*time.Minute, "how long every site stays alive and watched")
	cmd.Flags().IntVar(&trials, "trials", 3, "kill -9 detection trials after the watch")
	return cmd
}

func newE2EKubeCmd() *cobra.Command {
	var fl e2eFlags
	var workloads, samples int
	cmd := &cobra.Command{
		Use:     "kube",
		Short:   "Measure the reconciler on a real cluster: throughput against plain client-go, write-to-Deployment latency (prints JSON; needs make kube)",
		Example: `  atoll e2e kube --workloads 1000 --samples 50`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunKube(cmd.Context(), o, workloads, samples) })
		},
	}
	fl.bind(cmd, 2)
	cmd.Flags().IntVar(&workloads, "workloads", 1000, "workloads to apply, each a one-replica Deployment")
	cmd.Flags().IntVar(&samples, "samples", 50, "workloads written one at a time for the latency")
	return cmd
}

func newE2EKubeAPICmd() *cobra.Command {
	var fl e2eFlags
	var samples int
	cmd := &cobra.Command{
		Use:     "kubeapi",
		Short:   "Measure kubectl apply at a site's Kubernetes API against atoll apply, each to the Deployment in another site's real cluster (prints JSON; needs make kube)",
		Example: `  atoll e2e kubeapi --samples 30`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunKubeAPI(cmd.Context(), o, samples) })
		},
	}
	fl.bind(cmd, 2)
	cmd.Flags().IntVar(&samples, "samples", 30, "writes of each kind, alternating")
	return cmd
}

func newE2EScaleFailoverCmd() *cobra.Command {
	var fl e2eFlags
	var nodes, workloads, replicas int
	var profile bool
	cmd := &cobra.Command{
		Use:   "scale-failover",
		Short: "Fail over tens of thousands of pods on real clusters with fake Nodes, against a plain client-go loop on the same apiservers (prints JSON; needs make kube)",
		Long: `Scale-failover runs 4 sites, each with one real cluster of --nodes fake Nodes (110 pods
each), and --workloads Deployments of --replicas each, divided evenly. Once every pod is
ready it kills the fourth site and reports detect_ms, decide_ms and ready_ms from the kill;
then a plain client-go loop creates the replicas the survivors took over, in another
namespace of the same clusters, until ready (direct_ms): ratio_after_detect is direct_ms
over ready_ms - detect_ms. It then deletes the killed site's Deployments, restarts it and
reports failback: the least ready pods during it and anything beyond the policy once
settled. The sites run with the membership profile given. Progress goes to stderr; the last
line is the JSON report.`,
		Example: `  atoll e2e scale-failover --nodes 200 --workloads 400 --replicas 100`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile && fl.dir == "" {
				return fmt.Errorf("--cpu-profile needs --dir, where the profiles stay")
			}
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) {
				o.CPUProfile = profile
				return e2e.RunScaleFailover(cmd.Context(), o, nodes, workloads, replicas)
			})
		},
	}
	fl.bind(cmd, 4)
	cmd.Flags().BoolVar(&profile, "cpu-profile", false, "profile each survivor's CPU during the takeover into <dir>/<site>.cpu.pprof (needs --dir; go tool pprof)")
	cmd.Flags().IntVar(&nodes, "nodes", 200, "fake Nodes in each cluster, 110 pods each")
	cmd.Flags().IntVar(&workloads, "workloads", 400, "workloads, each a Deployment")
	cmd.Flags().IntVar(&replicas, "replicas", 100, "replicas of each workload")
	return cmd
}

func newE2EFootprintCmd() *cobra.Command {
	var fl e2eFlags
	var clusters, workloads int
	var idle time.Duration
	var profile bool
	cmd := &cobra.Command{
		Use:     "footprint",
		Short:   "Measure one idle site's memory and CPU with real member clusters joined and workloads applied (prints JSON; needs make kube)",
		Example: `  atoll e2e footprint --clusters 3 --workloads 100 --for 2m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile && fl.dir == "" {
				return fmt.Errorf("--cpu-profile needs --dir, where the profile stays")
			}
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) {
				o.CPUProfile = profile
				return e2e.RunFootprint(cmd.Context(), o, clusters, workloads, idle)
			})
		},
	}
	fl.bind(cmd, 1)
	cmd.Flags().IntVar(&clusters, "clusters", 3, "member clusters joined to the site")
	cmd.Flags().IntVar(&workloads, "workloads", 100, "workloads, each a Deployment with a replica in every cluster")
	cmd.Flags().DurationVar(&idle, "for", 2*time.Minute, "how long to measure the idle site")
	cmd.Flags().BoolVar(&profile, "cpu-profile", false, "profile the site's CPU over the idle period into <dir>/s00.cpu.pprof (needs --dir; go tool pprof)")
	return cmd
}

func newE2EFailoverCmd() *cobra.Command {
	var fl e2eFlags
	var workloads, replicas int
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Kill a site running part of every workload on real clusters; measure takeover and check failback and residency (prints JSON; needs make kube)",
		Long: `Failover runs 4 sites (two in EU), each with one real cluster, and workloads of the
given replicas, the first bounded to EU. It kills an EU site and reports detect_ms (every
survivor sees it dead), decide_ms (the survivors' Deployments ask for every replica) and
ready_ms (all ready in the survivors' clusters), all from the kill. It then deletes the
killed site's Deployments, restarts it and reports failback: the least ready replicas
during it (deleted_after_heal counts any shortfall), replicas beyond the policy once
settled (duplicated_after_heal) and residency violations (bounded replicas seen outside
EU, plus breaches in every site's audit records). The last line is the JSON report.`,
		Example: `  atoll e2e failover --workloads 3 --replicas 6 --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) { return e2e.RunFailover(cmd.Context(), o, workloads, replicas) })
		},
	}
	fl.bind(cmd, 4)
	cmd.Flags().IntVar(&workloads, "workloads", 3, "workloads, each a Deployment; the first is bounded to EU")
	cmd.Flags().IntVar(&replicas, "replicas", 6, "replicas of each workload")
	cmd.Flags().Bool("json", true, "print the report as one JSON line (always on)")
	return cmd
}

func newE2EViewCmd() *cobra.Command {
	var fl e2eFlags
	var workloads, streams, requests int
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Measure GET /v1/view at one site with many workloads and open streams (prints JSON)",
		Long: `View starts one site with an HTTP server, writes the workloads, opens the streams (each
reads every view it is sent), then times GET /v1/view: the whole view, a page of 100
from a random position, a search selecting one workload, and ?fresh=true after a write
(one in ten rounds). It reports p50/p99 of each and the mean time the site took to
compute a view meanwhile (atoll_view_duration_seconds).`,
		Example: `  atoll e2e view --workloads 10000 --streams 100 --requests 200`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fl.runJSON(cmd, func(o e2e.Options) (any, error) {
				return e2e.RunView(cmd.Context(), o, workloads, streams, requests)
			})
		},
	}
	fl.bind(cmd, 1)
	cmd.Flags().IntVar(&workloads, "workloads", 10_000, "workloads to write, each a one-replica Deployment")
	cmd.Flags().IntVar(&streams, "streams", 100, "GET /v1/stream readers open during the run")
	cmd.Flags().IntVar(&requests, "requests", 200, "requests of each kind")
	return cmd
}
