//go:build !release

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"atoll/chaos"
)

type simOptions struct {
	sites, seeds, byzantine int
	seedStart               uint64
	ticks, parallel         int
	json                    bool
	dumpDir                 string
}

// simSummary is the last line of `atoll sim --json`.
type simSummary struct {
	Seeds             int              `json:"seeds"`
	Sites             int              `json:"sites"`
	Byzantine         int              `json:"byzantine"`
	Converged         bool             `json:"converged"`
	DivergentSeeds    []uint64         `json:"divergent_seeds"`
	MaxRounds         int              `json:"max_rounds_to_converge"`
	BytesPerChange    float64          `json:"bytes_per_change"`
	P99SyncOverhead   float64          `json:"p99_sync_bytes_over_payload"`
	MedianSyncOverhd  float64          `json:"median_sync_bytes_over_payload"`
	SyncSessions      int              `json:"sync_sessions_with_payload"`
	SyncInTarget      float64          `json:"sync_fraction_within_1_3x_plus_1kb"`
	Writes            int              `json:"writes"`
	Rejected          int              `json:"rejected"`
	Amendments        int              `json:"amendments"`
	Void              int              `json:"void_changes"`
	Stable            int              `json:"stable_changes"`   // summed over the seeds, at one correct site
	Skeletons         int              `json:"skeleton_changes"` // likewise: changes compacted to skeletons
	Soft              chaos.SoftReport `json:"soft"`             // summed over the seeds
	ElapsedMS         int64            `json:"elapsed_ms"`
	FirstFailure      string           `json:"first_failure,omitempty"`
	FailureDumpDir    string           `json:"failure_dump_dir,omitempty"`
	ReplayFirstFailed string           `json:"replay,omitempty"`
}

func newSimCmd() *cobra.Command {
	o := simOptions{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the deterministic simulator: partitions, crashes, Byzantine sites, then check convergence",
		Example: `  atoll sim --sites 20 --seeds 200 --byzantine 4 --json
  atoll sim --sites 20 --byzantine 4 --seed-start 137 --seeds 1   # replay one seed`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.sites, "sites", 20, "sites in the federation, Byzantine ones included")
	f.IntVar(&o.seeds, "seeds", 20, "how many seeds to run")
	f.Uint64Var(&o.seedStart, "seed-start", 1, "first seed; seeds run from here upwards")
	f.IntVar(&o.byzantine, "byzantine", 0, "how many sites are Byzantine")
	f.IntVar(&o.ticks, "ticks", 120, "length of the chaos phase in ticks")
	f.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "seeds run at once")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	f.StringVar(&o.dumpDir, "dump-dir", "", "where failing seeds' state is written (default: a new temporary directory)")
	return cmd
}

func runSim(w io.Writer, o simOptions) error {
	if o.seeds < 1 || o.parallel < 1 {
		return fmt.Errorf("--seeds and --parallel must be at least 1")
	}
	tmp, err := os.MkdirTemp("", "atoll-sim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	reports := make([]chaos.Report, o.seeds)
	errs := make([]error, o.seeds)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.parallel {
		wg.Go(func() {
			for i := range jobs {
				dir := filepath.Join(tmp, fmt.Sprint(i))
				if errs[i] = os.Mkdir(dir, 0o700); errs[i] != nil {
					continue
				}
				reports[i], errs[i] = chaos.Run(chaos.Config{Sites: o.sites, Byzantine: o.byzantine,
					Seed: o.seedStart + uint64(i), Ticks: o.ticks, Dir: dir})
				os.RemoveAll(dir)
			}
		})
	}
	for i := range o.seeds {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	sum := simSummary{Seeds: o.seeds, Sites: o.sites, Byzantine: o.byzantine, DivergentSeeds: []uint64{}}
	var ratios []float64
	bytes, writes, inTarget := 0.0, 0, 0
	for _, r := range reports {
		if !r.Converged {
			sum.DivergentSeeds = append(sum.DivergentSeeds, r.Seed)
			if sum.FirstFailure == "" {
				sum.FirstFailure = fmt.Sprintf("seed %d: %s", r.Seed, r.Failure)
				sum.ReplayFirstFailed = fmt.Sprintf("atoll sim --sites %d --byzantine %d --ticks %d --seed-start %d --seeds 1",
					o.sites, o.byzantine, o.ticks, r.Seed)
			}
		}
		sum.MaxRounds = max(sum.MaxRounds, r.Rounds)
		ratios = append(ratios, r.SyncRatios...)
		inTarget += r.SyncInTarget
		bytes += r.BytesPerChange * float64(r.Writes)
		writes += r.Writes
		sum.Rejected += r.Rejected
		sum.Amendments += r.Amendments
		sum.Void += r.Void
		sum.Stable += r.Stable
		sum.Skeletons += r.Skeletons
		addSoft(&sum.Soft, r.Soft)
		if !o.json {
			status := "converged"
			if !r.Converged {
				status = "DIVERGED: " + r.Failure
			}
			fmt.Fprintf(w, "seed %d: %s in %d rounds, %d writes, %d changes, %d rejected, %d amendments, %d void, %d stable, %d skeletons; %s\n", r.Seed, status, r.Rounds, r.Writes, r.Changes, r.Rejected, r.Amendments, r.Void, r.Stable, r.Skeletons, r.Soft)
		}
	}
	sum.Converged = len(sum.DivergentSeeds) == 0
	sum.Writes = writes
	if writes > 0 {
		sum.BytesPerChange = round2(bytes / float64(writes))
	}
	slices.Sort(ratios)
	sum.P99SyncOverhead = round2(quantile(ratios, 0.99))
	sum.MedianSyncOverhd = round2(quantile(ratios, 0.5))
	sum.SyncSessions = len(ratios)
	if len(ratios) > 0 {
		sum.SyncInTarget = round2(float64(inTarget) / float64(len(ratios)))
	}
	sum.ElapsedMS = time.Since(start).Milliseconds()
	if !sum.Converged {
		dir, err := dumpFailures(o.dumpDir, reports)
		if err != nil {
			return err
		}
		sum.FailureDumpDir = dir
	}
	if o.json {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(w, string(b))
	} else {
		fmt.Fprintf(w, "%d seeds of %d sites (%d Byzantine): converged=%v, max %d rounds, %.0f bytes/change, sync bytes/payload p99 %.2f, %.1fs\n",
			sum.Seeds, sum.Sites, sum.Byzantine, sum.Converged, sum.MaxRounds, sum.BytesPerChange, sum.P99SyncOverhead, float64(sum.ElapsedMS)/1000)
		fmt.Fprintf(w, "%s (summed over the seeds)\n", sum.Soft)
		fmt.Fprintf(w, "compaction: %d changes stable, %d skeletons (summed over the seeds, at one correct site each)\n", sum.Stable, sum.Skeletons)
		if !sum.Converged {
			fmt.Fprintf(w, "divergent seeds %v; state in %s; replay the first: %s\n", sum.DivergentSeeds, sum.FailureDumpDir, sum.ReplayFirstFailed)
		}
	}
	if !sum.Converged {
		return fmt.Errorf("%d of %d seeds diverged", len(sum.DivergentSeeds), sum.Seeds)
	}
	return nil
}

func dumpFailures(dir string, reports []chaos.Report) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "atoll-sim-failures-")
		if err != nil {
			return "", err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, r := range reports {
		if r.Converged {
			continue
		}
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d.json", r.Seed)), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func addSoft(t *chaos.SoftReport, r chaos.SoftReport) {
	t.Written += r.Written
	t.Pushed += r.Pushed
	t.Stored += r.Stored
	t.Held += r.Held
	t.Rejected += r.Rejected
	t.Sessions += r.Sessions
	t.Failed += r.Failed
	t.Buckets += r.Buckets
	t.BytesIn += r.BytesIn
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
