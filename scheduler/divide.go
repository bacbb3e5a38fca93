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
func (p *Planner) Divide(w *Workload) Division {
	st := p.st
	d := Division{Workload: w.Key, Replicas: w.Replicas, Duplicated: duplicated(w)}
	ks := p.keeps(w)
	v := p.without(w, ks)
	nominal := p.eligible(v, false)
	actual := p.usable(v, nominal)
	p.lastKey, p.lastCands, p.lastKeeps = w.Key, actual, ks
	d.Conditions = append(d.Conditions, actual.notes...)
	if d.Duplicated {
		divideDuplicated(v, st, &d, nominal, actual)
	} else {
		divideDivided(v, st, &d, nominal, actual)
	}
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

func divideDivided(w *Workload, st *State, d *Division, nominal, actual candidates) {
	names, weights := nominal.sites()
	if sum(weights) == 0 && len(names) > 0 {
		d.Conditions = append(d.Conditions, "every usable cluster has weight 0: divided evenly")
		for i := range weights {
			weights[i] = 1
		}
	}
	current, ready := observed(w, st)
	// No ties by where replicas run: the base must not depend on status, which sites see
	// at different times while replicas move, or two sites could each leave a tied seat
	// to the other (found by the failover simulation).
	base := make([]int, len(names))
	webster(base, weights, nil, w.Replicas)

	// Shares under the viewer's liveness: live base shares, then takeover.
	liveNames, liveWeights := actual.sites()
	if sum(liveWeights) == 0 {
		for i := range liveWeights {
			liveWeights[i] = 1
		}
	}
	shares := make([]Share, len(liveNames))
	seats := make([]int, len(liveNames))
	liveSticky := make([]int, len(liveNames))
	lost := w.Replicas
	var lostFrom []string
	baseAt := index(names)
	isLive := index(liveNames)
	for i, n := range liveNames {
		shares[i].Name = n
		liveSticky[i] = current[n]
		if j, ok := baseAt[n]; ok {
			seats[i], shares[i].Base = base[j], base[j]
			lost -= base[j]
		}
	}
	for j, n := range names {
		if _, ok := isLive[n]; base[j] > 0 && !ok {
			lostFrom = append(lostFrom, n)
		}
	}
	on, surge := takeover(w)
	if lost > 0 && on && len(liveNames) > 0 {
		extra := min(lost, surge)
		before := slices.Clone(seats)
		webster(seats, liveWeights, liveSticky, extra)
		for i := range shares {
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
	for i := range shares {
		shares[i].Replicas = seats[i]
	}
	d.Missing = max(lost, 0)
	// A live site inside the bound that runs replicas but has no share any more (another
	// affinity term or spread group) may hold them too; Local keeps a held-only share
	// where it runs.
	for _, s := range st.Sites {
		_, live := isLive[s.Name]
		if current[s.Name] > 0 && s.Alive && !live && !slices.Contains(lostFrom, s.Name) &&
			(len(w.Bound) == 0 || slices.Contains(w.Bound, s.Jurisdiction)) {
			shares = append(shares, Share{Name: s.Name})
		}
	}
	hold(shares, current, ready, d.Missing)
	for i := range shares {
		shares[i].Reason = reason(&shares[i], nominal, lostFrom)
		if draining(st, shares[i].Name) {
			shares[i].Reason = "draining; " + shares[i].Reason
		}
	}
	// Sites with a base share the viewer cannot use appear with 0 replicas.
	for j, n := range names {
		if _, ok := isLive[n]; base[j] > 0 && !ok {
			shares = append(shares, Share{Name: n, Base: base[j], Reason: "unavailable: dead to this site or no usable cluster"})
		}
	}
	d.Sites = keep(shares)
}

// hold lets shares with more ready replicas than their target keep that surplus while
// others are below target in ready replicas, or replicas are missing: each holder keeps
// as much of its surplus as covers the whole shortfall. Holders do not split the
// shortfall between them: under different views each would count on another. A holder's
// surplus counts replicas that are not ready yet too: they are about to serve, and
// counting only ready ones let a holder drop replicas that later views needed (a seed of
// the failover simulation dipped).
func hold(shares []Share, current, ready map[string]int, missing int) {
	short := missing
	for _, s := range shares {
		short += max(s.Replicas-ready[s.Name], 0)
	}
	slices.SortFunc(shares, func(a, b Share) int { return strings.Compare(a.Name, b.Name) })
	for i := range shares {
		s := &shares[i]
		surplus := current[s.Name] - s.Replicas
		if surplus <= 0 || short <= 0 {
			continue
		}
		h := min(surplus, short)
		s.Hold, s.Replicas = h, s.Replicas+h
	}
}

func reason(s *Share, c candidates, lostFrom []string) string {
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

// observed sums, per site, the replicas it applied and the replicas ready.
func observed(w *Workload, st *State) (current, ready map[string]int) {
	current, ready = map[string]int{}, map[string]int{}
	for k, o := range w.Status {
		site, _, _ := strings.Cut(k, "/")
		current[site] += o.Desired
		ready[site] += o.Ready
	}
	return current, ready
}

// draining reports whether the charter marks the site as leaving.
func draining(st *State, site string) bool {
	i, ok := slices.BinarySearchFunc(st.Sites, site, func(s Site, n string) int { return strings.Compare(s.Name, n) })
	return ok && st.Sites[i].Draining
}

// index maps names to their positions.
func index(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}
