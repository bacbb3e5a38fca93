package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/site"
)

// UpgradeTarget is the binary a rolling upgrade moves every process to.
type UpgradeTarget struct {
	Binary  string
	Version string // what Binary reports in GET /v1/state (site.Version)
	// Seed drives the writer's choice of process; 0 picks one (reported).
	Seed uint64
}

// UpgradeReport is the outcome of a rolling upgrade; its JSON is `atoll e2e upgrade`'s last
// line. Writes, gaps and restarts come from Fed.Upgrade; the rest from RunUpgrade.
type UpgradeReport struct {
	Sites     int      `json:"sites"`
	Processes int      `json:"processes"` // site processes, Raft replicas included
	From      []string `json:"from"`      // versions reported before, by process
	To        string   `json:"to"`
	Seed      uint64   `json:"seed"`
	UpgradeMs int64    `json:"upgrade_ms"`     // from the first SIGTERM until the last process was ready
	Writes    int      `json:"writes"`         // acknowledged while the upgrade ran
	Refused   int      `json:"refused"`        // attempts not acknowledged: followers, stopped processes
	GapMs     int64    `json:"longest_gap_ms"` // between acknowledged writes anywhere
	// SiteGapMs is the longest gap between acknowledged writes of each site: for site 0,
	// how long its replicas could not take writes while its leader restarted.
	SiteGapMs map[string]int64 `json:"longest_gap_ms_by_site"`
	Restarts  []Restart        `json:"restarts"`

	ConvergeMs             int64  `json:"converge_ms"` // after the writer stopped
	DigestsEqual           bool   `json:"digests_equal"`
	LostAcknowledgedWrites int    `json:"lost_acknowledged_writes"`
	Error                  string `json:"error,omitempty"`
}

// Restart is one process's turn in a rolling upgrade.
type Restart struct {
	Process int    `json:"process"`
	Name    string `json:"name"`       // s00, s00-r1, ...
	Role    string `json:"role"`       // before the restart: site, leader or follower
	After   string `json:"role_after"` // once ready: a restarted leader may lead again
	StopMs  int64  `json:"stop_ms"`
	StartMs int64  `json:"start_ms"` // until its API answered
	// ReadyMs is from its API answering until it reported the new version, every speaker
	// saw every other, its Raft group had one leader, and it held at least as many changes
	// as any process did when it came back.
	ReadyMs int64 `json:"ready_ms"`
	Writes  int   `json:"writes"` // acknowledged anywhere from SIGTERM until ready
}

// RunUpgrade starts a federation on o.Binary, upgrades every process to `to` in turn while
// writing (Fed.Upgrade), and checks that the sites converge with every acknowledged write.
// The federation is stopped before it returns.
func RunUpgrade(ctx context.Context, o Options, to UpgradeTarget) (UpgradeReport, error) {
	f, err := startSettled(ctx, o)
	if err != nil {
		return UpgradeReport{Sites: o.Sites}, err
	}
	defer f.Stop()
	rep, err := f.Upgrade(ctx, to)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = f.WaitConverged(cctx)
	cancel()
	rep.ConvergeMs = time.Since(start).Milliseconds()
	rep.DigestsEqual = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	lost, err := f.Lost(ctx)
	if err != nil {
		return rep, err
	}
	rep.LostAcknowledgedWrites = len(lost)
	return rep, nil
}

// Upgrade replaces every process's binary in turn while a writer keeps writing at random
// running processes, like a StatefulSet's RollingUpdate: sites from the last to the
// first, and site 0's Raft replicas followers first, its leader last. Each process gets
// SIGTERM, restarts on to.Binary, and must be ready (see Restart.ReadyMs) before the next
// one goes. It returns once the writer has stopped; convergence is the caller's to check.
func (f *Fed) Upgrade(ctx context.Context, to UpgradeTarget) (UpgradeReport, error) {
	rep := UpgradeReport{Sites: f.opts.Sites, Processes: len(f.Names), To: to.Version, Seed: to.Seed}
	if rep.Seed == 0 {
		rep.Seed = rand.Uint64()
	}
	sts, err := f.States(ctx)
	if err != nil {
		return rep, err
	}
	for i := range f.Names {
		rep.From = append(rep.From, sts[i].Version)
	}
	wctx, stop := context.WithCancel(ctx)
	w := &writer{rng: rand.New(rand.NewPCG(rep.Seed, 7))}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(wctx, f) }()
	defer func() { stop(); wg.Wait() }()
	if err := f.waitFor(ctx, "a first acknowledged write", func(map[int]site.State) bool { return w.acked() > 0 }); err != nil {
		return rep, err
	}

	began := time.Now()
	var sigterms, readies []time.Time
	for done := map[int]bool{}; len(done) < len(f.Names); {
		i, role, err := f.nextToUpgrade(ctx, done)
		if err != nil {
			return rep, err
		}
		r := Restart{Process: i, Name: strings.TrimSuffix(filepath.Base(f.configs[i]), ".yaml"), Role: role}
		t0 := time.Now()
		if err := f.StopSite(i); err != nil {
			return rep, err
		}
		t1 := time.Now()
		f.SetBinary(i, to.Binary)
		if err := f.StartSite(ctx, i); err != nil {
			return rep, err
		}
		t2 := time.Now()
		if r.After, err = f.waitUpgraded(ctx, i, to.Version); err != nil {
			return rep, fmt.Errorf("e2e: upgrading %s: %w", r.Name, err)
		}
		t3 := time.Now()
		r.StopMs, r.StartMs, r.ReadyMs = t1.Sub(t0).Milliseconds(), t2.Sub(t1).Milliseconds(), t3.Sub(t2).Milliseconds()
		rep.Restarts = append(rep.Restarts, r)
		sigterms, readies = append(sigterms, t0), append(readies, t3)
		done[i] = true
	}
	rep.UpgradeMs = time.Since(began).Milliseconds()
	stop()
	wg.Wait()
	acks := w.acks
	rep.Writes, rep.Refused, rep.SiteGapMs = len(acks), w.refused, map[string]int64{}
	last := map[string]time.Time{}
	for k, a := range acks {
		if k > 0 {
			rep.GapMs = max(rep.GapMs, a.Sub(acks[k-1]).Milliseconds())
		}
		name := f.Names[w.sites[k]]
		if t, ok := last[name]; ok {
			rep.SiteGapMs[name] = max(rep.SiteGapMs[name], a.Sub(t).Milliseconds())
		}
		last[name] = a
	}
	for k := range rep.Restarts {
		lo, _ := slices.BinarySearchFunc(acks, sigterms[k], time.Time.Compare)
		hi, _ := slices.BinarySearchFunc(acks, readies[k], time.Time.Compare)
		rep.Restarts[k].Writes = hi - lo
	}
	return rep, nil
}

// nextToUpgrade picks the next process: the highest site index first; among site 0's
// replicas, a follower before the leader. It returns the process's role.
func (f *Fed) nextToUpgrade(ctx context.Context, done map[int]bool) (int, string, error) {
	for i := f.opts.Sites - 1; i > 0; i-- {
		if !done[i] {
			st, err := f.clients[i].State(ctx)
			return i, st.Role, err
		}
	}
	var leader = -1
	for i := range f.Names {
		if done[i] || (i != 0 && !f.replicaOf0(i)) {
			continue
		}
		st, err := f.clients[i].State(ctx)
		if err != nil {
			return 0, "", err
		}
		if st.Role != "leader" {
			return i, st.Role, nil
		}
		leader = i
	}
	if leader < 0 {
		return 0, "", fmt.Errorf("e2e: no process left to upgrade")
	}
	return leader, "leader", nil
}

// waitUpgraded waits until process i runs version, every speaker sees every other, site
// 0's replicas have exactly one leader, and i holds at least as many changes as any
// process held when it came back. It returns i's role then.
func (f *Fed) waitUpgraded(ctx context.Context, i int, version string) (role string, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	want := -1 // the most changes another process holds, at the first look
	err = f.waitFor(ctx, "the restarted process ready", func(sts map[int]site.State) bool {
		role = sts[i].Role
		if want < 0 {
			for j, st := range sts {
				if j != i {
					want = max(want, st.Changes)
				}
			}
		}
		if sts[i].Version != version || sts[i].Changes < want || !members(sts) {
			return false
		}
		leaders := 0
		for j, st := range sts {
			if f.replicaOf0(j) && st.Role == "leader" {
				leaders++
			}
		}
		return f.opts.Replicas <= 1 || leaders == 1
	})
	return role, err
}

// writer writes one change at a time at a random running process until its context ends,
// and keeps the times of the acknowledged ones.
type writer struct {
	rng     *rand.Rand
	mu      sync.Mutex
	acks    []time.Time // in order
	sites   []int       // the process that acknowledged each
	refused int
}

func (w *writer) run(ctx context.Context, f *Fed) {
	for k := 0; ctx.Err() == nil; k++ {
		if run := f.RunningSites(); len(run) > 0 {
			i := run[w.rng.IntN(len(run))]
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := f.Write(wctx, i, fmt.Sprintf("u%d", k%50), Seq(k))
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acks, w.sites = append(w.acks, time.Now()), append(w.sites, i)
			} else if ctx.Err() == nil {
				w.refused++
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (w *writer) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}
