package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"atoll/site"
)

// Conditions are what a benchmark's figures were measured under: how the sites ran, how
// long they took to settle, how often the membership flapped, and how loaded the machine
// was. On a loaded machine the figures measure the machine as much as the sites.
type Conditions struct {
	PerProcess int `json:"sites_per_process"` // Options.PerProcess (1: a process per site)
	Processes  int `json:"processes"`
	// StartMs is from the first process's start until every site's API answered;
	// SettleMs until, moreover, every site saw every other live and all held the same
	// changes: the federation had settled and the measurement could begin.
	StartMs  int64 `json:"start_ms"`
	SettleMs int64 `json:"settle_ms"`
	// Flaps are the membership's flaps summed over the sites while measured; FlapsSettling
	// those from start until settled.
	Flaps         Flaps `json:"flaps"`
	FlapsSettling Flaps `json:"flaps_settling"`
	// LoadStart and LoadEnd are the machine's load averages (1, 5 and 15 min,
	// /proc/loadavg) before the sites started and when the measurement ended; CPUs is
	// how many the machine has.
	LoadStart [3]float64 `json:"load_start"`
	LoadEnd   [3]float64 `json:"load_end"`
	CPUs      int        `json:"cpus"`
}

// Flaps count the membership's flaps over the sites (site counters suspects, deaths,
// refutes and peersLost): peers suspected, suspects declared dead, suspicions refuted by
// their target, and peers memberlist reported gone. Each event counts once per site that
// saw it.
type Flaps struct {
	Suspects  uint64 `json:"suspects"`
	Deaths    uint64 `json:"deaths"`
	Refutes   uint64 `json:"refutes"`
	PeersLost uint64 `json:"peers_lost"`
}

// flapsBetween sums the flaps of every site in after since before (nil: since start).
func flapsBetween(before, after map[int]site.State) Flaps {
	var f Flaps
	for i, st := range after {
		b := before[i].Counters // a nil map reads 0
		d := func(k string) uint64 { return st.Counters[k] - b[k] }
		f.Suspects += d("suspects")
		f.Deaths += d("deaths")
		f.Refutes += d("refutes")
		f.PeersLost += d("peersLost")
	}
	return f
}

// loadAvg reads the machine's load averages; zeros where /proc/loadavg is missing.
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2])
	}
	return l
}

// measured is a federation started by startMeasured, with the conditions so far and
// every site's state once settled.
type measured struct {
	*Fed
	cond Conditions
	at   map[int]site.State
}

// finish completes the conditions at the end of a measurement whose last states are
// after.
func (s *measured) finish(after map[int]site.State) Conditions {
	c := s.cond
	c.Flaps = flapsBetween(s.at, after)
	c.LoadEnd = loadAvg()
	return c
}

// SettleTimeout bounds how long the latency and idle benchmarks wait for a federation to
// settle: every site seeing every other live, and all holding the same changes.
const SettleTimeout = 4 * time.Minute

// startMeasured is startSettled recording the conditions. If the federation does not
// settle within limit (0: no limit but ctx's) it is stopped, and the conditions so far
// (the flaps while settling, the load) are returned with the error.
func startMeasured(ctx context.Context, o Options, limit time.Duration) (*measured, error) {
	c := Conditions{PerProcess: max(o.PerProcess, 1), LoadStart: loadAvg(), CPUs: runtime.NumCPU()}
	c.Processes = (o.Sites + c.PerProcess - 1) / c.PerProcess
	t0 := time.Now()
	f, err := Start(ctx, o)
	if err != nil {
		return &measured{cond: c}, err
	}
	c.StartMs = time.Since(t0).Milliseconds()
	sctx, cancel := context.WithCancel(ctx)
	if limit > 0 {
		sctx, cancel = context.WithTimeout(ctx, limit)
	}
	err = f.WaitMembers(sctx)
	if err == nil {
		err = f.WaitConverged(sctx)
	}
	cancel()
	at, serr := f.States(ctx)
	if err == nil {
		err = serr
	}
	c.FlapsSettling = flapsBetween(nil, at)
	if err != nil {
		c.SettleMs, c.LoadEnd = -1, loadAvg()
		f.Stop()
		return &measured{cond: c}, fmt.Errorf("e2e: not settled (%s): %w", settledSummary(at, len(f.Names)), err)
	}
	c.SettleMs = time.Since(t0).Milliseconds()
	return &measured{f, c, at}, nil
}

// settledSummary says how far from settled the sites were.
func settledSummary(sts map[int]site.State, n int) string {
	all := 0
	for _, st := range sts {
		if len(st.Live) == n-1 {
			all++
		}
	}
	return fmt.Sprintf("%d of %d sites answered, %d saw every other live", len(sts), n, all)
}
