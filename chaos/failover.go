package chaos

import (
	"fmt"
	"slices"

	"atoll/scheduler"
)

// FailoverConfig sets up one run of the failover simulation. Durations are in ticks.
type FailoverConfig struct {
	Sites     int    // sites, in the four jurisdictions in turn, two clusters each. Default 20.
	Workloads int    // workloads, cycling through eight policies (ten with Dynamic). Default 30.
	Seed      uint64 // everything random derives from it
	Ticks     int    // length of the chaos phase. Default 240.
	HealTicks int    // deadline for quiescence after the heal. Default 300.
	Quiet     int    // ticks with nothing changing that make a run quiescent. Default 15.

	Detect      int // ticks without contact after which a site declares a peer dead. Default 12.
	Rejoin      int // ticks of contact after which a peer declared dead is alive again. Default 2.
	Ready       int // ticks from a pod's creation to its readiness. Default 6.
	MaxDelay    int // a published record reaches a connected site 1 to MaxDelay ticks later. Default 2.
	AntiEntropy int // a live site pulls a random connected peer's records with probability 1/AntiEntropy per tick. Default 2.
	TickMS      int // wall time a tick stands for, for the report only. Default 500.

	// Dynamic adds workloads whose weights read free capacity (dynamic weights and
	// Aggregated), and makes pods consume their cluster's capacity. Off by default: their
	// base division moves with capacity that sites see at different times, and
	// make-before-break dips in a few seeds, a known limitation of the scheduler.
	Dynamic bool

	// Place is what each live site runs for each workload: its share and the desired
	// replicas per cluster of its own. Default DefaultPlace; tests substitute broken
	// placers to prove the checker catches them.
	Place Placer
}

// Placer computes site's share of a workload from its view, and the replicas each of its
// clusters should run (by cluster name; clusters left out run none).
type Placer func(site string, w *scheduler.Workload, st *scheduler.State) (share scheduler.Share, clusters []scheduler.Share)

// DefaultPlace is the scheduler: Divide, then Local for the site's own share.
func DefaultPlace(site string, w *scheduler.Workload, st *scheduler.State) (scheduler.Share, []scheduler.Share) {
	d := scheduler.Divide(w, st)
	for _, s := range d.Sites {
		if s.Name == site {
			return s, scheduler.Local(w, s, st)
		}
	}
	return scheduler.Share{Name: site}, nil
}

func (c *FailoverConfig) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Sites, 20)
	def(&c.Workloads, 30)
	def(&c.Ticks, 240)
	def(&c.HealTicks, 300)
	def(&c.Quiet, 15)
	def(&c.Detect, 12)
	def(&c.Rejoin, 2)
	def(&c.Ready, 6)
	def(&c.MaxDelay, 2)
	def(&c.AntiEntropy, 2)
	def(&c.TickMS, 500)
	if c.Place == nil {
		c.Place = DefaultPlace
	}
}

// Validate reports a config that cannot run.
func (c FailoverConfig) Validate() error {
	if c.Sites < 4 || c.Sites > 99 {
		return fmt.Errorf("chaos: failover sites must be 4 to 99, not %d", c.Sites)
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"workloads", c.Workloads}, {"ticks", c.Ticks}, {"heal ticks", c.HealTicks}, {"quiet", c.Quiet},
		{"detect", c.Detect}, {"rejoin", c.Rejoin}, {"ready", c.Ready}, {"max delay", c.MaxDelay},
		{"anti-entropy", c.AntiEntropy}, {"tick ms", c.TickMS}} {
		if v.v < 1 {
			return fmt.Errorf("chaos: failover %s must be at least 1, not %d", v.name, v.v)
		}
	}
	return nil
}

// FailoverReport is the outcome of one seed of the failover simulation.
type FailoverReport struct {
	Seed      uint64 `json:"seed"`
	Sites     int    `json:"sites"`
	Workloads int    `json:"workloads"`
	Replicas  int    `json:"replicas"` // desired replicas of all workloads, every site alive
	Ticks     int    `json:"ticks"`    // warm-up, chaos and heal
	HealTicks int    `json:"heal_ticks"`
	TickMS    int    `json:"tick_ms"`

	Deaths          int `json:"site_deaths"`
	Isolations      int `json:"site_isolations"`
	Partitions      int `json:"partitions"`
	ClusterFailures int `json:"cluster_failures"`
	Cordons         int `json:"cordons"` // clusters tainted NoSchedule for a while

	ResidencyViolations   int `json:"residency_violations"`     // cluster-ticks desiring or running a replica outside its bound
	DuplicatedAfterHeal   int `json:"duplicated_after_heal"`    // replicas beyond the desired ones once quiescent
	DeletedAfterHeal      int `json:"deleted_after_heal"`       // desired replicas missing once quiescent
	NotReadyAfterHeal     int `json:"not_ready_after_heal"`     // pods not ready once quiescent
	BrokenMakeBeforeBreak int `json:"broken_make_before_break"` // workloads whose ready replicas dipped after the heal
	CordonGained          int `json:"cordon_gained"`            // cluster-ticks a cordoned cluster desired more replicas of a Divided workload than before

	Takeovers []Takeover `json:"takeovers,omitempty"`
	Failure   string     `json:"failure,omitempty"`
}

// Takeover is one measured failure of a site (death or isolation) that happened while
// every site was up, connected and seen alive by every other: ticks from the fault until
// a survivor declared the site dead (detect), until a survivor's share of a workload the
// site ran took over more (decide), and until the survivors' ready replicas covered the
// lost share within maxSurge (ready). -1: not reached before the site came back, 100
// ticks passed, or the chaos phase ended; ready stays -1 when the site ran nothing that
// can be taken over.
type Takeover struct {
	Site   string `json:"site"`
	Kind   string `json:"kind"` // death or isolation
	At     int    `json:"at"`   // tick of the fault
	Detect int    `json:"detect_ticks"`
	Decide int    `json:"decide_ticks"`
	Ready  int    `json:"ready_ticks"`
}

// RunFailover simulates one seed: warm-up until quiescent, a chaos phase of partitions,
// site deaths and restarts and cluster failures, then a heal and a run until quiescent.
// A broken check returns the report, with Failure set, and an error naming the seed.
func RunFailover(cfg FailoverConfig) (FailoverReport, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return FailoverReport{}, err
	}
	w := newWorld(cfg)
	ck := newChecker(w)
	rep := FailoverReport{Seed: cfg.Seed, Sites: cfg.Sites, Workloads: len(w.wls), Replicas: ck.totalWanted(), TickMS: cfg.TickMS}
	var errs []string
	if !w.settle(ck, cfg.HealTicks) {
		errs = append(errs, fmt.Sprintf("not quiescent %d ticks after the start", cfg.HealTicks))
	}
	for end := w.tick + cfg.Ticks; w.tick < end; {
		if w.tick == end-cordonsEnd {
			w.liftCordons()
		}
		w.fault(&rep, ck, w.tick < end-cordonsEnd)
		w.advance(ck)
	}
	ck.closeEvent()
	w.heal()
	ck.startHeal()
	start := w.tick
	if !w.settle(ck, cfg.HealTicks) {
		errs = append(errs, fmt.Sprintf("not quiescent %d ticks after the heal", cfg.HealTicks))
	}
	rep.HealTicks, rep.Ticks = w.tick-start, w.tick
	ck.afterHeal(&rep)
	rep.ResidencyViolations, rep.BrokenMakeBeforeBreak, rep.CordonGained = ck.residency, ck.broken, ck.gained
	rep.Takeovers = ck.events
	errs = append(errs, ck.failures()...)
	if len(errs) > 0 {
		rep.Failure = errs[0]
		if len(errs) > 1 {
			rep.Failure += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return rep, fmt.Errorf("chaos failover: seed %d: %s", cfg.Seed, rep.Failure)
	}
	return rep, nil
}

// advance runs one tick and the per-tick checks.
func (w *world) advance(ck *checker) {
	w.step()
	ck.observe()
	w.tick++
}

// settle runs until the world has been quiet for Quiet ticks, at most limit ticks.
func (w *world) settle(ck *checker, limit int) bool {
	quiet := 0
	for end := w.tick + limit; w.tick < end; {
		w.advance(ck)
		if !w.quiet() {
			quiet = 0
		} else if quiet++; quiet >= w.cfg.Quiet {
			return true
		}
	}
	return false
}

// fault may partition, isolate a site, heal the network, kill or restart a site, or fail
// or recover a cluster. At most a quarter of the sites are down at once.
func (w *world) fault(rep *FailoverReport, ck *checker, cordons bool) {
	calm := w.calm()
	switch r := w.rng.IntN(100); {
	case r < 2:
		w.net.partition(2 + w.rng.IntN(2))
		rep.Partitions++
	case r < 4:
		if s := w.pick(func(s *foSite) bool { return s.up }); s != nil {
			w.net.isolate(s.idx)
			rep.Isolations++
			if calm {
				ck.openEvent(s, "isolation")
			}
		}
	case r < 8:
		w.net.heal()
	case r < 11:
		if w.down() < len(w.sites)/4 {
			if s := w.pick(func(s *foSite) bool { return s.up }); s != nil {
				w.kill(s)
				rep.Deaths++
				if calm {
					ck.openEvent(s, "death")
				}
			}
		}
	case r < 15:
		if s := w.pick(func(s *foSite) bool { return !s.up }); s != nil {
			w.restart(s)
		}
	case r < 18:
		if i := w.pickCluster(true); i >= 0 {
			w.failCluster(w.clusters[i])
			rep.ClusterFailures++
		}
	case r < 23:
		if i := w.pickCluster(false); i >= 0 {
			w.recoverCluster(w.clusters[i])
		}
	case r < 25:
		if c := w.clusters[w.rng.IntN(len(w.clusters))]; !c.cordoned && cordons {
			w.cordon(c, true)
			rep.Cordons++
		}
	case r < 28:
		if c := w.clusters[w.rng.IntN(len(w.clusters))]; c.cordoned {
			w.cordon(c, false)
		}
	}
}

// cordonsEnd is how many ticks before the end of the chaos phase every cordon is lifted
// and no new one is set: an operator's uncordon is not a fault the heal ends, and a
// cordon lifted while clusters recover is judged by holders that may not have heard of
// the recovery yet.
const cordonsEnd = 30

// liftCordons ends every cordon.
func (w *world) liftCordons() {
	for _, c := range w.clusters {
		if c.cordoned {
			w.cordon(c, false)
		}
	}
}

// calm: every site up, connected to every other and seeing every other alive.
func (w *world) calm() bool {
	for _, s := range w.sites {
		if !s.up || !w.net.connected(s.idx, 0) || slices.Contains(s.alive, false) {
			return false
		}
	}
	return true
}

func (w *world) down() int {
	n := 0
	for _, s := range w.sites {
		if !s.up {
			n++
		}
	}
	return n
}

// pick returns a random site satisfying ok, or nil.
func (w *world) pick(ok func(*foSite) bool) *foSite {
	var c []*foSite
	for _, s := range w.sites {
		if ok(s) {
			c = append(c, s)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[w.rng.IntN(len(c))]
}

// pickCluster returns the index of a random cluster with the given health, or -1.
func (w *world) pickCluster(healthy bool) int {
	var c []int
	for i, cl := range w.clusters {
		if cl.healthy == healthy {
			c = append(c, i)
		}
	}
	if len(c) == 0 {
		return -1
	}
	return c[w.rng.IntN(len(c))]
}

// heal ends every fault: the network heals, every site restarts, every cluster recovers.
// Cordons ended earlier (liftCordons).
func (w *world) heal() {
	w.net.heal()
	for _, s := range w.sites {
		if !s.up {
			w.restart(s)
		}
	}
	for _, c := range w.clusters {
		if !c.healthy {
			w.recoverCluster(c)
		}
	}
}

// TakeoverMedians returns the median ticks of each stage over the takeovers that reached
// it (0 when none did), and how many reached ready.
func TakeoverMedians(ts []Takeover) (detect, decide, ready float64, n int) {
	var a, b, c []int
	for _, t := range ts {
		if t.Detect >= 0 {
			a = append(a, t.Detect)
		}
		if t.Decide >= 0 {
			b = append(b, t.Decide)
		}
		if t.Ready >= 0 {
			c = append(c, t.Ready)
		}
	}
	return median(a), median(b), median(c), len(c)
}

func median(xs []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return float64(xs[n/2])
	}
	return float64(xs[n/2-1]+xs[n/2]) / 2
}
