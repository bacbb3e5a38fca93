package chaos

import (
	"math/rand/v2"
	"slices"
	"time"

	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/core"
)

// foRecord is what one site publishes in the shared state: its clusters' health, free
// capacity and each workload's status in them. Only the owner writes its record and a
// record is never changed once written, so the newest version wins and views share them.
type foRecord struct {
	version  int                  // tick of the write
	healthy  []bool               // per cluster of the owner
	cordoned []bool               // per cluster of the owner: a NoSchedule taint
	free     []int64              // per cluster of the owner: pods it can still take
	status   []scheduler.Observed // [workload*clusters per site + cluster of the owner]
}

func (r *foRecord) same(o *foRecord) bool {
	return slices.Equal(r.healthy, o.healthy) && slices.Equal(r.cordoned, o.cordoned) && slices.Equal(r.free, o.free) && slices.Equal(r.status, o.status)
}

// foSite is one site's process: while up, it places its share of every workload from its
// own view of the shared state and of liveness.
type foSite struct {
	idx      int
	up       bool
	view     []*foRecord    // by owner site: the shared state as this site knows it
	live     *core.Liveness // the site core's view of which peers are live, with its hysteresis
	alive    []bool         // by site: the view it places from (live.Alive), itself included
	lastSeen []int          // by site: last tick in contact, for the membership's detection
	dirty    []bool         // per workload: something it is placed from changed since
	takeover []int          // per workload: Takeover of its last share, for the timings
}

// foCluster is one member cluster: per workload, the desired count its site set and the
// pods it runs. It keeps running while its site is down.
type foCluster struct {
	site     int
	healthy  bool
	cordoned bool    // a NoSchedule taint: it keeps what it runs and gets nothing new
	desired  []int   // per workload
	pods     [][]int // per workload: creation tick of each pod, oldest first
	ready    []int   // per workload: the oldest ready pods are pods[:ready]
}

type foDelivery struct {
	to, owner, at int
	rec           *foRecord
}

// world is the failover simulation's state; step advances it by one tick.
type world struct {
	cfg      FailoverConfig
	rng      *rand.Rand
	net      *network // only its partition groups
	tick     int
	siteInfo []scheduler.Site    // the charter, Alive unset
	clInfo   []scheduler.Cluster // static cluster facts, Healthy unset
	keys     []string            // "site/cluster" per cluster
	wls      []foWorkload
	sites    []*foSite
	clusters []*foCluster // site i's clusters are [i*perSite, (i+1)*perSite)
	inflight []foDelivery
	changed  bool // a desired count changed, or pods were created or removed, this tick
}

// perSite is how many clusters each site has.
var perSite = len(foClusterNames)

func newWorld(cfg FailoverConfig) *world {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6a09e667f3bcc908))
	w := &world{cfg: cfg, rng: rng, net: newNetwork(rng, cfg.Sites), wls: foWorkloads(cfg.Workloads, cfg.Dynamic)}
	w.siteInfo, w.clInfo = foTopology(cfg.Sites)
	for _, c := range w.clInfo {
		w.keys = append(w.keys, c.Site+"/"+c.Name)
	}
	nw := len(w.wls)
	initial := make([]*foRecord, cfg.Sites)
	for i := range cfg.Sites {
		initial[i] = &foRecord{version: -1, healthy: slices.Repeat([]bool{true}, perSite), cordoned: make([]bool, perSite), status: make([]scheduler.Observed, nw*perSite)}
		for j := range perSite {
			initial[i].free = append(initial[i].free, w.clInfo[i*perSite+j].Available["pods"])
		}
	}
	for i := range cfg.Sites {
		s := &foSite{idx: i, up: true, view: slices.Clone(initial), alive: make([]bool, cfg.Sites), live: core.NewLiveness(),
			lastSeen: make([]int, cfg.Sites), dirty: make([]bool, nw), takeover: make([]int, nw)}
		s.live.Lead(foTime(0))
		for j := range s.alive {
			s.alive[j] = true
			if j != i {
				s.live.Up(w.siteInfo[j].Name, crdt.PubKey{}, "", foTime(0))
			}
		}
		s.touch(-1)
		w.sites = append(w.sites, s)
		for range perSite {
			w.clusters = append(w.clusters, &foCluster{site: i, healthy: true,
				desired: make([]int, nw), pods: make([][]int, nw), ready: make([]int, nw)})
		}
	}
	return w
}

// step advances the world by one tick: records arrive, liveness views change, live sites
// place their shares, clusters converge on the desired counts, live sites publish.
func (w *world) step() {
	w.changed = false
	w.deliver()
	w.antiEntropy()
	w.updateLiveness()
	for _, s := range w.sites {
		if s.up && slices.Contains(s.dirty, true) {
			w.place(s)
		}
	}
	w.reconcile()
	for _, s := range w.sites {
		if s.up {
			w.publish(s)
		}
	}
}

// deliver hands out the records due now; one whose writer and reader are not connected,
// or whose reader is down, is lost (anti-entropy repairs it).
func (w *world) deliver() {
	keep := w.inflight[:0]
	for _, d := range w.inflight {
		switch {
		case d.at > w.tick:
			keep = append(keep, d)
		case w.sites[d.to].up && w.net.connected(d.owner, d.to):
			w.accept(w.sites[d.to], d.owner, d.rec)
		}
	}
	w.inflight = keep
}

func (w *world) accept(s *foSite, owner int, rec *foRecord) {
	cur := s.view[owner]
	if rec.version <= cur.version {
		return
	}
	s.view[owner] = rec
	if !slices.Equal(cur.healthy, rec.healthy) || !slices.Equal(cur.cordoned, rec.cordoned) {
		s.touch(-1)
		return
	}
	if !slices.Equal(cur.free, rec.free) {
		w.touchDynamic(s)
	}
	for wi := range s.dirty {
		if !slices.Equal(cur.status[wi*perSite:(wi+1)*perSite], rec.status[wi*perSite:(wi+1)*perSite]) {
			s.touch(wi)
		}
	}
}

// touchDynamic marks the workloads whose weights read free capacity to be placed again.
func (w *world) touchDynamic(s *foSite) {
	for wi := range w.wls {
		if w.wls[wi].dynamic() {
			s.dirty[wi] = true
		}
	}
}

// touch marks workload wi (-1: all) to be placed again.
func (s *foSite) touch(wi int) {
	if wi >= 0 {
		s.dirty[wi] = true
		return
	}
	for i := range s.dirty {
		s.dirty[i] = true
	}
}

// antiEntropy: each live site pulls, with probability 1/AntiEntropy, every newer record
// from one random live site it is connected to. Relays and heals converge through it.
func (w *world) antiEntropy() {
	var peers []int
	for _, s := range w.sites {
		if !s.up || w.rng.IntN(w.cfg.AntiEntropy) != 0 {
			continue
		}
		peers = peers[:0]
		for _, p := range w.sites {
			if p != s && p.up && w.net.connected(s.idx, p.idx) {
				peers = append(peers, p.idx)
			}
		}
		if len(peers) == 0 {
			continue
		}
		p := w.sites[peers[w.rng.IntN(len(peers))]]
		for o, rec := range p.view {
			w.accept(s, o, rec)
		}
	}
}

// updateLiveness: a live site's membership reports a peer up on contact and down after
// more than Detect ticks without it (the peer is down or partitioned away); the site core's
// Liveness then counts a peer that was lost as alive again only after Rejoin ticks of
// contact (its settle time), and after a restart counts peers not seen yet as alive for
// its startup grace.
func (w *world) updateLiveness() {
	now := foTime(w.tick)
	for _, a := range w.sites {
		if !a.up {
			continue
		}
		for _, b := range w.sites {
			if a == b {
				continue
			}
			name := w.siteInfo[b.idx].Name
			if b.up && w.net.connected(a.idx, b.idx) {
				a.lastSeen[b.idx] = w.tick
				a.live.Up(name, crdt.PubKey{}, "", now)
			} else if w.tick-a.lastSeen[b.idx] > w.cfg.Detect {
				a.live.Down(name, now)
			}
		}
		alive, _ := a.live.Alive(now, w.siteNames(), foTicks(w.cfg.Rejoin), foTicks(w.cfg.Detect+1))
		for i := range a.alive {
			if now := i == a.idx || alive[w.siteInfo[i].Name]; now != a.alive[i] {
				a.alive[i] = now
				a.touch(-1)
			}
		}
	}
}

// A failover tick is a second of the site core's time.
func foTicks(n int) time.Duration { return time.Duration(n) * time.Second }
func foTime(tick int) time.Time   { return epoch.Add(foTicks(tick)) }

func (w *world) siteNames() []string {
	out := make([]string, len(w.siteInfo))
	for i, s := range w.siteInfo {
		out[i] = s.Name
	}
	return out
}

// state is the scheduler's input at site s: the charter with s's view of liveness, and
// every cluster with its health and free capacity as s knows them (its own, first hand).
func (w *world) state(s *foSite) *scheduler.State {
	st := &scheduler.State{Sites: slices.Clone(w.siteInfo), Clusters: slices.Clone(w.clInfo)}
	for i := range st.Sites {
		st.Sites[i].Alive = i == s.idx || s.alive[i]
	}
	for i := range st.Clusters {
		c := &st.Clusters[i]
		cordoned := false
		if o := i / perSite; o == s.idx {
			c.Healthy, c.Available, cordoned = w.clusters[i].healthy, scheduler.Resources{"pods": w.free(i)}, w.clusters[i].cordoned
		} else {
			c.Healthy, c.Available, cordoned = s.view[o].healthy[i%perSite], scheduler.Resources{"pods": s.view[o].free[i%perSite]}, s.view[o].cordoned[i%perSite]
		}
		if cordoned {
			c.Taints = []scheduler.Taint{{Key: "maintenance", Effect: scheduler.NoSchedule}}
		}
	}
	return st
}

// status is workload wi's status as site s knows it: its own clusters first hand.
func (w *world) status(s *foSite, wi int) map[string]scheduler.Observed {
	m := map[string]scheduler.Observed{}
	for i, c := range w.clusters {
		var o scheduler.Observed
		if c.site == s.idx {
			o = scheduler.Observed{Desired: c.desired[wi], Ready: c.ready[wi]}
		} else {
			o = s.view[c.site].status[wi*perSite+i%perSite]
		}
		if o != (scheduler.Observed{}) {
			m[w.keys[i]] = o
		}
	}
	return m
}

// place runs the placer for every workload whose inputs changed at site s, and sets its
// clusters' desired counts. The placer is a pure function, so running it only when its
// inputs changed is the same as running it every tick.
func (w *world) place(s *foSite) {
	st := w.state(s)
	name := w.siteInfo[s.idx].Name
	for wi := range w.wls {
		if !s.dirty[wi] {
			continue
		}
		s.dirty[wi] = false
		wl := w.wls[wi].Workload
		wl.Status = w.status(s, wi)
		share, local := w.cfg.Place(name, &wl, st)
		s.takeover[wi] = share.Takeover
		for j, cn := range foClusterNames {
			n := 0
			for _, l := range local {
				if l.Name == cn {
					n = l.Replicas
				}
			}
			if c := w.clusters[s.idx*perSite+j]; c.desired[wi] != n {
				c.desired[wi] = n
				w.changed = true
				s.dirty[wi] = true // its own status is an input: place again next tick
			}
		}
	}
}

// free is cluster i's capacity less the pods it runs.
func (w *world) free(i int) int64 {
	n := w.clInfo[i].Available["pods"]
	if !w.cfg.Dynamic {
		return n
	}
	for _, pods := range w.clusters[i].pods {
		n -= int64(len(pods))
	}
	return max(n, 0)
}

// reconcile is every cluster's controllers: pods are created to reach the desired count
// and ready Ready ticks later; extra pods are removed at once, the newest (least ready)
// first. An unhealthy cluster runs nothing.
func (w *world) reconcile() {
	for _, c := range w.clusters {
		if !c.healthy {
			continue
		}
		for wi, d := range c.desired {
			pods := c.pods[wi]
			if len(pods) != d {
				w.changed = true
				w.touchDynamic(w.sites[c.site])
			}
			for len(pods) < d {
				pods = append(pods, w.tick)
			}
			if len(pods) > d {
				pods = pods[:d]
				if c.ready[wi] > d {
					c.ready[wi] = d
					w.sites[c.site].touch(wi)
				}
			}
			for c.ready[wi] < len(pods) && w.tick-pods[c.ready[wi]] >= w.cfg.Ready {
				c.ready[wi]++
				w.sites[c.site].touch(wi)
			}
			c.pods[wi] = pods
		}
	}
}

// publish writes site s's record if it changed, and pushes it to every other site.
func (w *world) publish(s *foSite) {
	rec := &foRecord{version: w.tick, healthy: make([]bool, perSite), cordoned: make([]bool, perSite), free: make([]int64, perSite), status: make([]scheduler.Observed, len(w.wls)*perSite)}
	for j := range perSite {
		c := w.clusters[s.idx*perSite+j]
		rec.healthy[j], rec.cordoned[j], rec.free[j] = c.healthy, c.cordoned, w.free(s.idx*perSite+j)
		for wi := range w.wls {
			rec.status[wi*perSite+j] = scheduler.Observed{Desired: c.desired[wi], Ready: c.ready[wi]}
		}
	}
	if rec.same(s.view[s.idx]) {
		return
	}
	s.view[s.idx] = rec
	for _, t := range w.sites {
		if t != s {
			w.inflight = append(w.inflight, foDelivery{to: t.idx, owner: s.idx, rec: rec, at: w.tick + 1 + w.rng.IntN(w.cfg.MaxDelay)})
		}
	}
}

// Faults.

func (w *world) kill(s *foSite) { s.up = false }

// restart brings a site back with the view it had (its store survives) and a fresh
// membership: the core's startup grace counts every site alive until it misses Detect
// ticks of contact.
func (w *world) restart(s *foSite) {
	s.up = true
	s.touch(-1)
	s.live = core.NewLiveness()
	s.live.Lead(foTime(w.tick))
	for i := range s.alive {
		s.alive[i], s.lastSeen[i] = true, w.tick
	}
}

// failCluster loses every pod of the cluster; its site sees and reports it.
func (w *world) failCluster(c *foCluster) {
	c.healthy = false
	for wi := range c.pods {
		c.pods[wi], c.ready[wi] = nil, 0
	}
	w.sites[c.site].touch(-1)
	w.changed = true
}

// recoverCluster brings a cluster back; it recreates the pods of its desired counts.
func (w *world) recoverCluster(c *foCluster) {
	c.healthy = true
	w.sites[c.site].touch(-1)
}

// cordon taints a cluster NoSchedule, or ends it; its site sees it first hand.
func (w *world) cordon(c *foCluster, on bool) {
	c.cordoned = on
	w.sites[c.site].touch(-1)
	w.changed = true
}

// quiet reports whether nothing is in flight, every live site's view is the newest, and
// every pod is ready.
func (w *world) quiet() bool {
	if w.changed || len(w.inflight) > 0 {
		return false
	}
	for _, s := range w.sites {
		for o, rec := range s.view {
			if s.up && rec != w.sites[o].view[o] {
				return false
			}
		}
	}
	for _, c := range w.clusters {
		for wi, pods := range c.pods {
			if c.ready[wi] < len(pods) {
				return false
			}
		}
	}
	return true
}
