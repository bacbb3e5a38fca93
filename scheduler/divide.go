package scheduler

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Divide computes the global division of a workload's replicas across sites: the first
// of the two levels. It is a pure function of the workload and the state; sites that see
// the same liveness compute the same division.
//
// The base division is Webster's method over the sites' weights (the sum of their usable
// clusters' weights) as if every site were alive. Sites the viewer sees as dead keep their
// base share on paper, and, when the policy allows takeover, the live sites take it over
// incrementally (no live site loses a replica), at most MaxSurge in all. When a site
// returns, sites running more than their share keep the difference until the returning
// site reports its replicas ready: failback is make-before-break.
//
// Clusters that keep replicas without being placed (cordoned by a NoSchedule taint, or
// evicted with purgeMode Never: cordon.go) are set aside first: the rest is divided.
func (p *Planner) Divide(w *Workload) Division { return p.divide(w, p.set(w)) }

// divide is Divide for a workload whose clusterSet is cs.
func (p *Planner) divide(w *Workload, cs *clusterSet) Division {
	d := Division{Workload: w.Key, Replicas: w.Replicas, Duplicated: duplicated(w)}
	ks := p.keeps(w, cs)
	v := p.without(w, ks)
	nominal := p.eligibleIn(v, cs, false)
	actual := p.usable(v, cs, nominal)
	p.lastKey, p.lastCands, p.lastKeeps = w.Key, actual, ks
	d.Conditions = append(d.Conditions, actual.notes...)
	p.observe(v)
	if d.Duplicated {
		p.divideDuplicated(v, &d, nominal, actual)
	} else {
		p.divideDivided(v, &d, nominal, actual)
	}
	p.forget(v)
	if len(ks) > 0 {
		p.addKeeps(&d, ks)
	}
	return d
}

// duplicated reports whether every placed cluster runs all the replicas.
func duplicated(w *Workload) bool {
	rs := w.Policy.ReplicaScheduling
	return w.Replicas < 0 || rs != nil && rs.ReplicaSchedulingType == Duplicated
}

// takeover reports whether the policy lets survivors take over, and how many replicas at most.
func takeover(w *Workload) (bool, int) {
	if t := w.Policy.Takeover; t != nil && !*t {
		return false, 0
	}
	return true, Surge(w.Policy.MaxSurge, w.Replicas)
}

// Surge parses a MaxSurge value ("3" or "50%", rounded up) against the desired replicas;
// "" is 100%. A malformed value counts as 0: no surge.
func Surge(s string, replicas int) int {
	if s == "" {
		return max(replicas, 0)
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0
		}
		if r := max(replicas, 0); n > 0 && r > (math.MaxInt-99)/n {
			return math.MaxInt // saturated: more than any replicas to take over
		}
		return (max(replicas, 0)*n + 99) / 100
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// divideDivided divides the replicas; the workload is observed (Planner.observe).
func (p *Planner) divideDivided(w *Workload, d *Division, nominal, actual *candidates) {
	st := p.st
	names, weights := nominal.sites, nominal.siteW // site indexes
	if sum(weights) == 0 && len(names) > 0 {
		d.Conditions = append(d.Conditions, "every usable cluster has weight 0: divided evenly")
		weights = ones(len(names))
	}
	// No ties by where replicas run: the base must not depend on status, which sites see
	// at different times while replicas move, or two sites could each leave a tied seat
	// to the other (found by the failover simulation).
	base := make([]int, len(names))
	p.webster(base, weights, nil, w.Replicas)

	// Shares under the viewer's liveness: live base shares, then takeover.
	live, liveWeights := actual.sites, actual.siteW
	if sum(liveWeights) == 0 {
		liveWeights = ones(len(live))
	}
	// Room for the held-only shares and those of unavailable sites.
	shares := make([]Share, len(live), len(live)+len(names)+2)
	at := make([]int, len(live), len(live)+2) // per share: its site's index
	seats := make([]int, len(live))
	liveSticky := make([]int, len(live))
	lost := w.Replicas
	var lostFrom []string
	k := 0
	for i, j := range live { // both sorted: a merge finds each live site's base
		shares[i].Name, at[i] = st.Sites[j].Name, j
		liveSticky[i] = p.cur[j]
		for k < len(names) && names[k] < j {
			k++
		}
		if k < len(names) && names[k] == j {
			seats[i], shares[i].Base = base[k], base[k]
			lost -= base[k]
		}
	}
	for k, j := range names {
		if base[k] > 0 && !actual.has(j) {
			lostFrom = append(lostFrom, st.Sites[j].Name)
		}
	}
	on, surge := takeover(w)
	if lost > 0 && on && len(live) > 0 {
		extra := min(lost, surge)
		before := slices.Clone(seats)
		p.webster(seats, liveWeights, liveSticky, extra)
		for i := range seats {
			shares[i].Takeover = seats[i] - before[i]
		}
		lost -= extra
		if lost > 0 {
			d.Conditions = append(d.Conditions, fmt.Sprintf("takeover limited to %d by maxSurge %q", extra, w.Policy.MaxSurge))
		}
	}
	if lost > 0 && len(lostFrom) > 0 {
		d.Conditions = append(d.Conditions, fmt.Sprintf("%d replicas of unavailable sites %s not taken over", lost, strings.Join(lostFrom, ",")))
	}
	for i := range seats {
		shares[i].Replicas = seats[i]
	}
	d.Missing = max(lost, 0)
	// A live site inside the bound that runs replicas but has no share any more (another
	// affinity term or spread group) may hold them too; Local keeps a held-only share
	// where it runs.
	for j, s := range st.Sites {
		if p.cur[j] > 0 && s.Alive && !actual.has(j) && !slices.Contains(lostFrom, s.Name) &&
			(len(w.Bound) == 0 || slices.Contains(w.Bound, s.Jurisdiction)) {
			shares, at = append(shares, Share{Name: s.Name}), append(at, j)
		}
	}
	current, ready := make([]int, len(at)), make([]int, len(at))
	for i, j := range at {
		current[i], ready[i] = p.cur[j], p.rdy[j]
	}
	hold(shares, current, ready, d.Missing)
	for i := range shares {
		shares[i].Reason = reason(&shares[i], nominal, lostFrom)
		if st.Sites[at[i]].Draining {
			shares[i].Reason = "draining; " + shares[i].Reason
		}
	}
	// Sites with a base share the viewer cannot use appear with 0 replicas.
	for k, j := range names {
		if base[k] > 0 && !actual.has(j) {
			shares = append(shares, Share{Name: st.Sites[j].Name, Base: base[k], Reason: "unavailable: dead to this site or no usable cluster"})
		}
	}
	d.Sites = keep(shares)
}

func ones(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// hold lets shares with more replicas than their target keep that surplus while other
// shares are below target in ready replicas, or replicas are missing: each holder keeps
// as much of its surplus as covers the others' whole shortfall. Holders do not split the
// shortfall between them: under different views each would count on another. A holder's
// surplus counts replicas that are not ready yet too: they are about to serve, and
// counting only ready ones let a holder drop replicas that later views needed (a seed of
// the failover simulation dipped). A holder's own shortfall is not a reason to hold: its
// surplus replicas are the same pods as its target ones, and holding them for itself
// only asked for more than the policy (a site held 33 for a share of 25 while its own
// were starting).
//
// current and ready are per share.
func hold(shares []Share, current, ready []int, missing int) {
	short := missing
	own := make([]int, len(shares))
	for i, s := range shares {
		own[i] = max(s.Replicas-ready[i], 0)
		short += own[i]
	}
	for i := range shares {
		s := &shares[i]
		surplus, others := current[i]-s.Replicas, short-own[i]
		if surplus <= 0 || others <= 0 {
			continue
		}
		h := min(surplus, others)
		s.Hold, s.Replicas = h, s.Replicas+h
	}
}

func reason(s *Share, c *candidates, lostFrom []string) string {
	var parts []string
	if s.Replicas-s.Takeover-s.Hold > 0 || s.Replicas == 0 {
		r := ReasonRule
		if c.term != "" {
			r += ": affinity " + c.term
		}
		parts = append(parts, r)
	}
	if s.Takeover > 0 {
		parts = append(parts, fmt.Sprintf("%s: +%d from %s", ReasonTakeover, s.Takeover, strings.Join(lostFrom, ",")))
	}
	if s.Hold > 0 {
		parts = append(parts, fmt.Sprintf("%s: +%d held until others are ready", ReasonHold, s.Hold))
	}
	return strings.Join(parts, "; ")
}

// keep drops shares with nothing to run or to explain and sorts them by name.
func keep(shares []Share) []Share {
	shares = slices.DeleteFunc(shares, func(s Share) bool { return s.Replicas == 0 && s.Base == 0 })
	slices.SortFunc(shares, func(a, b Share) int { return strings.Compare(a.Name, b.Name) })
	return shares
}

// observe sets, per site, the replicas the workload runs there and those ready (cur and
// rdy); forget clears them. Status from sites outside the state is not counted: none of
// them has a share.
func (p *Planner) observe(w *Workload) {
	for k, o := range w.Status {
		site, _, _ := strings.Cut(k, "/")
		if j, ok := p.siteAt[site]; ok {
			p.cur[j] += o.Desired
			p.rdy[j] += o.Ready
		}
	}
}

func (p *Planner) forget(w *Workload) {
	for k := range w.Status {
		site, _, _ := strings.Cut(k, "/")
		if j, ok := p.siteAt[site]; ok {
			p.cur[j], p.rdy[j] = 0, 0
		}
	}
}
