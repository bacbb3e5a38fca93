//go:build !release

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"atoll/chaos"
)

func newChaosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Deterministic simulations of the federation under faults",
	}
	cmd.AddCommand(newFailoverCmd())
	return cmd
}

type failoverOptions struct {
	sites, seeds, ticks, parallel int
	seedStart                     uint64
	dynamic, json                 bool
}

// failoverSummary is the last line of `atoll chaos failover --json`.
type failoverSummary struct {
	Seeds     int `json:"seeds"`
	Sites     int `json:"sites"`
	Workloads int `json:"workloads"`
	Replicas  int `json:"replicas"` // desired replicas of all workloads, every site alive
	Ticks     int `json:"ticks"`    // per seed, median
	HealTicks int `json:"heal_ticks_max"`
	TickMS    int `json:"tick_ms"`

	TakeoverEvents int     `json:"takeover_events"` // measured deaths and isolations
	TakeoversReady int     `json:"takeovers_ready"` // of those, covered before the site came back
	DetectTicks    float64 `json:"detect_ticks"`    // medians over the events that reached the stage
	DecideTicks    float64 `json:"decide_ticks"`
	ReadyTicks     float64 `json:"ready_ticks"`
	DetectMS       float64 `json:"detect_ms"`
	DecideMS       float64 `json:"decide_ms"`
	ReadyMS        float64 `json:"ready_ms"`

	ResidencyViolations   int `json:"residency_violations"`
	DuplicatedAfterHeal   int `json:"duplicated_after_heal"`
	DeletedAfterHeal      int `json:"deleted_after_heal"`
	NotReadyAfterHeal     int `json:"not_ready_after_heal"`
	BrokenMakeBeforeBreak int `json:"broken_make_before_break"`

	Passed       bool     `json:"passed"`
	FailedSeeds  []uint64 `json:"failed_seeds"`
	FirstFailure string   `json:"first_failure,omitempty"`
	Replay       string   `json:"replay,omitempty"`
	ElapsedMS    int64    `json:"elapsed_ms"`
}

func newFailoverCmd() *cobra.Command {
	o := failoverOptions{}
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Simulate the scheduler through partitions, site deaths, cluster failures and cordons, then check residency, cordons, the division after the heal and make-before-break",
		Example: `  atoll chaos failover --sites 20 --seeds 100 --json
  atoll chaos failover --sites 20 --seed-start 37 --seeds 1   # replay one seed`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFailover(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.sites, "sites", 20, "sites, in four jurisdictions in turn, two clusters each")
	f.IntVar(&o.seeds, "seeds", 20, "how many seeds to run")
	f.Uint64Var(&o.seedStart, "seed-start", 1, "first seed; seeds run from here upwards")
	f.IntVar(&o.ticks, "ticks", 0, "length of the chaos phase in ticks (default 240)")
	f.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "seeds run at once")
	f.BoolVar(&o.dynamic, "dynamic", false, "add workloads with dynamic weights and let pods consume capacity (known to dip make-before-break)")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

func runFailover(w io.Writer, o failoverOptions) error {
	if o.seeds < 1 || o.parallel < 1 {
		return fmt.Errorf("--seeds and --parallel must be at least 1")
	}
	config := func(seed uint64) chaos.FailoverConfig {
		return chaos.FailoverConfig{Sites: o.sites, Seed: seed, Ticks: o.ticks, Dynamic: o.dynamic}
	}
	start := time.Now()
	reports := make([]chaos.FailoverReport, o.seeds)
	errs := make([]error, o.seeds)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.parallel {
		wg.Go(func() {
			for i := range jobs {
				reports[i], errs[i] = chaos.RunFailover(config(o.seedStart + uint64(i)))
			}
		})
	}
	for i := range o.seeds {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, err := range errs {
		if err != nil && reports[i].Failure == "" {
			return err // the configuration, not a check
		}
	}
	sum := failoverSummary{Seeds: o.seeds, Sites: reports[0].Sites, Workloads: reports[0].Workloads,
		Replicas: reports[0].Replicas, TickMS: reports[0].TickMS, FailedSeeds: []uint64{}}
	var all []chaos.Takeover
	var ticks []float64
	for _, r := range reports {
		all = append(all, r.Takeovers...)
		ticks = append(ticks, float64(r.Ticks))
		sum.HealTicks = max(sum.HealTicks, r.HealTicks)
		sum.ResidencyViolations += r.ResidencyViolations
		sum.DuplicatedAfterHeal += r.DuplicatedAfterHeal
		sum.DeletedAfterHeal += r.DeletedAfterHeal
		sum.NotReadyAfterHeal += r.NotReadyAfterHeal
		sum.BrokenMakeBeforeBreak += r.BrokenMakeBeforeBreak
		if r.Failure != "" {
			sum.FailedSeeds = append(sum.FailedSeeds, r.Seed)
			if sum.FirstFailure == "" {
				sum.FirstFailure = fmt.Sprintf("seed %d: %s", r.Seed, r.Failure)
				sum.Replay = fmt.Sprintf("atoll chaos failover --sites %d --seed-start %d --seeds 1", o.sites, r.Seed)
				if o.ticks != 0 {
					sum.Replay += fmt.Sprintf(" --ticks %d", o.ticks)
				}
				if o.dynamic {
					sum.Replay += " --dynamic"
				}
			}
		}
		if !o.json {
			status := "ok"
			if r.Failure != "" {
				status = "FAILED: " + r.Failure
			}
			d, de, re, n := chaos.TakeoverMedians(r.Takeovers)
			fmt.Fprintf(w, "seed %d: %s; %d ticks (heal %d); %d deaths, %d isolations, %d partitions, %d cluster failures, %d cordons; takeover detect/decide/ready %.0f/%.0f/%.0f ticks over %d\n",
				r.Seed, status, r.Ticks, r.HealTicks, r.Deaths, r.Isolations, r.Partitions, r.ClusterFailures, r.Cordons, d, de, re, n)
		}
	}
	slices.Sort(ticks)
	sum.Ticks = int(quantile(ticks, 0.5))
	sum.TakeoverEvents = len(all)
	sum.DetectTicks, sum.DecideTicks, sum.ReadyTicks, sum.TakeoversReady = chaos.TakeoverMedians(all)
	ms := float64(sum.TickMS)
	sum.DetectMS, sum.DecideMS, sum.ReadyMS = sum.DetectTicks*ms, sum.DecideTicks*ms, sum.ReadyTicks*ms
	sum.Passed = len(sum.FailedSeeds) == 0
	sum.ElapsedMS = time.Since(start).Milliseconds()
	if o.json {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(w, string(b))
	} else {
		fmt.Fprintf(w, "%d seeds of %d sites, %d workloads, %d replicas: passed=%v; takeover detect %.0f ms, decide %.0f ms, ready %.0f ms (medians over %d of %d events, %d ms ticks); residency violations %d, after the heal %d duplicated, %d deleted, make-before-break broken %d; %.1fs\n",
			sum.Seeds, sum.Sites, sum.Workloads, sum.Replicas, sum.Passed, sum.DetectMS, sum.DecideMS, sum.ReadyMS,
			sum.TakeoversReady, sum.TakeoverEvents, sum.TickMS, sum.ResidencyViolations, sum.DuplicatedAfterHeal, sum.DeletedAfterHeal,
			sum.BrokenMakeBeforeBreak, float64(sum.ElapsedMS)/1000)
		if !sum.Passed {
			fmt.Fprintf(w, "failed seeds %v; replay the first: %s\n", sum.FailedSeeds, sum.Replay)
		}
	}
	if !sum.Passed {
		return fmt.Errorf("%d of %d seeds failed a check", len(sum.FailedSeeds), sum.Seeds)
	}
	return nil
}
