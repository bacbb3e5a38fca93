package chaos

import (
	"fmt"

	"atoll/scheduler"
)

// checker watches a failover run: residency at every tick, make-before-break after the
// heal, the division once quiescent, and the timings of takeovers.
type checker struct {
	w *world

	residency      int
	firstResidency string

	healing     bool
	floor       []int // per workload: ready replicas may not drop below it after the heal
	dipped      []bool
	broken      int
	firstBroken string

	afterHealErrs []string

	// A cordoned cluster never desires more of a Divided workload than it did when it
	// was cordoned or since: last is each cluster's desired counts at the previous tick.
	last        [][]int
	gained      int
	firstGained string

	events []Takeover
	open   *openEvent
}

// openEvent is the takeover being measured.
type openEvent struct {
	i      int   // in events
	victim int   // site index
	wls    []int // Divided workloads with takeover on that the victim ran
	target []int // per wls: survivors' ready replicas that cover the lost share within maxSurge
	before []int // per wls: survivors' takeover at the fault
}

func newChecker(w *world) *checker {
	return &checker{w: w, floor: make([]int, len(w.wls)), dipped: make([]bool, len(w.wls))}
}

// wanted is how many replicas of workload wi should run once every site and cluster is up.
func (ck *checker) wanted(wi int) int {
	wl := &ck.w.wls[wi]
	if !wl.duplicated() {
		return wl.Replicas
	}
	n := 0
	for i := range ck.w.clInfo {
		if c := &ck.w.clInfo[i]; wl.expect(c) && wl.inBound(c) {
			n += wl.Replicas
		}
	}
	return n
}

func (ck *checker) totalWanted() int {
	n := 0
	for wi := range ck.w.wls {
		n += ck.wanted(wi)
	}
	return n
}

// ready counts the ready replicas of workload wi on every site's clusters but skipSite's
// (-1 skips none).
func (ck *checker) ready(wi int, skipSite int) int {
	n := 0
	for _, c := range ck.w.clusters {
		if c.site != skipSite {
			n += c.ready[wi]
		}
	}
	return n
}

// observe runs the per-tick checks, after the tick's step.
func (ck *checker) observe() {
	w := ck.w
	for wi := range w.wls {
		wl := &w.wls[wi]
		if len(wl.Bound) > 0 {
			for i, c := range w.clusters {
				if (c.desired[wi] > 0 || len(c.pods[wi]) > 0) && !wl.inBound(&w.clInfo[i]) {
					ck.residency++
					if ck.firstResidency == "" {
						ck.firstResidency = fmt.Sprintf("tick %d: %s (%s) desires %d and runs %d replicas of %s bounded to %v",
							w.tick, w.keys[i], w.clInfo[i].Jurisdiction, c.desired[wi], len(c.pods[wi]), wl.Key, wl.Bound)
					}
				}
			}
		}
		if ck.healing && !ck.dipped[wi] {
			if r := ck.ready(wi, -1); r < ck.floor[wi] {
				ck.dipped[wi] = true
				ck.broken++
				if ck.firstBroken == "" {
					ck.firstBroken = fmt.Sprintf("tick %d: %s has %d ready replicas, fewer than the %d it had or wants at the heal",
						w.tick, wl.Key, r, ck.floor[wi])
				}
			}
		}
	}
	ck.cordons()
	if ck.open != nil {
		ck.progress()
	}
}

// cordons counts the cluster-ticks a cordoned cluster desired more of a Divided workload
// than at the tick before.
func (ck *checker) cordons() {
	w := ck.w
	if ck.last == nil {
		ck.last = make([][]int, len(w.clusters))
	}
	for i, c := range w.clusters {
		for wi, d := range c.desired {
			if prev := ck.last[i]; c.cordoned && prev != nil && d > prev[wi] && !w.wls[wi].duplicated() {
				ck.gained++
				if ck.firstGained == "" {
					ck.firstGained = fmt.Sprintf("tick %d: cordoned %s desires %d replicas of %s, %d the tick before", w.tick, w.keys[i], d, w.wls[wi].Key, prev[wi])
				}
			}
		}
		ck.last[i] = append(ck.last[i][:0], c.desired...)
	}
}

// startHeal records the floors of make-before-break, once the heal's faults are ended.
func (ck *checker) startHeal() {
	ck.healing = true
	for wi := range ck.w.wls {
		ck.floor[wi] = min(ck.wanted(wi), ck.ready(wi, -1))
	}
}

// afterHeal compares what runs with what should once quiescent.
func (ck *checker) afterHeal(rep *FailoverReport) {
	w := ck.w
	for wi := range w.wls {
		wl := &w.wls[wi]
		running := 0
		for i, c := range w.clusters {
			n := len(c.pods[wi])
			running += n
			rep.NotReadyAfterHeal += n - c.ready[wi]
			if wl.duplicated() {
				want := 0
				if wl.expect(&w.clInfo[i]) && wl.inBound(&w.clInfo[i]) {
					want = wl.Replicas
				}
				if n != want {
					ck.afterHealErrs = append(ck.afterHealErrs, fmt.Sprintf("%s runs %d replicas of Duplicated %s, not %d", w.keys[i], n, wl.Key, want))
				}
				rep.DuplicatedAfterHeal += max(n-want, 0)
				rep.DeletedAfterHeal += max(want-n, 0)
			}
		}
		if !wl.duplicated() && running != wl.Replicas {
			ck.afterHealErrs = append(ck.afterHealErrs, fmt.Sprintf("%s runs %d replicas in all, not %d", wl.Key, running, wl.Replicas))
			rep.DuplicatedAfterHeal += max(running-wl.Replicas, 0)
			rep.DeletedAfterHeal += max(wl.Replicas-running, 0)
		}
	}
	if rep.NotReadyAfterHeal > 0 {
		ck.afterHealErrs = append(ck.afterHealErrs, fmt.Sprintf("%d pods not ready after the heal", rep.NotReadyAfterHeal))
	}
}

// failures lists what broke, the first instance of each check.
func (ck *checker) failures() []string {
	var out []string
	if ck.residency > 0 {
		out = append(out, fmt.Sprintf("residency: %d violations, the first at %s", ck.residency, ck.firstResidency))
	}
	if ck.broken > 0 {
		out = append(out, fmt.Sprintf("make-before-break: %d workloads dipped after the heal, the first at %s", ck.broken, ck.firstBroken))
	}
	if ck.gained > 0 {
		out = append(out, fmt.Sprintf("cordon: %d cluster-ticks gained replicas, the first at %s", ck.gained, ck.firstGained))
	}
	if n := len(ck.afterHealErrs); n > 0 {
		out = append(out, fmt.Sprintf("after the heal: %s", ck.afterHealErrs[0]))
	}
	return out
}

// openEvent starts measuring the takeover of site s's share.
func (ck *checker) openEvent(s *foSite, kind string) {
	if ck.open != nil {
		return
	}
	w := ck.w
	o := &openEvent{i: len(ck.events), victim: s.idx}
	ck.events = append(ck.events, Takeover{Site: w.siteInfo[s.idx].Name, Kind: kind, At: w.tick, Detect: -1, Decide: -1, Ready: -1})
	for wi := range w.wls {
		wl := &w.wls[wi]
		if wl.duplicated() || (wl.Policy.Takeover != nil && !*wl.Policy.Takeover) {
			continue
		}
		lost := 0
		for _, c := range w.clusters[s.idx*perSite : (s.idx+1)*perSite] {
			lost += c.desired[wi]
		}
		if lost == 0 {
			continue
		}
		surge := min(lost, scheduler.Surge(wl.Policy.MaxSurge, wl.Replicas))
		o.wls = append(o.wls, wi)
		o.target = append(o.target, wl.Replicas-lost+surge)
		o.before = append(o.before, ck.survivorsTakeover(wi, s.idx))
	}
	ck.open = o
}

func (ck *checker) survivorsTakeover(wi, victim int) int {
	n := 0
	for _, s := range ck.w.sites {
		if s.up && s.idx != victim {
			n += s.takeover[wi]
		}
	}
	return n
}

// progress advances the open measurement; it ends when the lost share is covered, the
// victim is back, or 100 ticks passed.
func (ck *checker) progress() {
	w, o := ck.w, ck.open
	e := &ck.events[o.i]
	since := w.tick - e.At
	if e.Detect < 0 {
		for _, s := range w.sites {
			if s.up && s.idx != o.victim && !s.alive[o.victim] {
				e.Detect = since
				break
			}
		}
	}
	if e.Decide < 0 {
		for k, wi := range o.wls {
			if ck.survivorsTakeover(wi, o.victim) > o.before[k] {
				e.Decide = since
				break
			}
		}
	}
	if e.Ready < 0 && e.Decide >= 0 {
		covered := true
		for k, wi := range o.wls {
			covered = covered && ck.ready(wi, o.victim) >= o.target[k]
		}
		if covered {
			e.Ready = since
		}
	}
	victim := w.sites[o.victim]
	back := victim.up && e.Kind == "death"
	for _, s := range w.sites {
		back = back || e.Kind == "isolation" && s.up && s != victim && w.net.connected(s.idx, o.victim)
	}
	if e.Ready >= 0 || (len(o.wls) == 0 && e.Detect >= 0) || back || since >= 100 {
		ck.open = nil
	}
}

// closeEvent abandons the measurement in progress when the chaos phase ends.
func (ck *checker) closeEvent() { ck.open = nil }
