package scheduler

import (
	"fmt"
	"slices"
	"strings"
)

// divideDuplicated gives every site with a usable cluster the whole workload (each of its
// usable clusters runs all the replicas). When the viewer's liveness changes which
// clusters are usable (a fallback affinity term, or another spread group), sites that
// were not in the base placement take over, if the policy allows; and a site that ran the
// workload before keeps it until every placed site is ready.
func divideDuplicated(w *Workload, st *State, d *Division, nominal, actual candidates) {
	per := max(w.Replicas, 1)
	baseSites, _ := nominal.sites()
	liveSites, _ := actual.sites()
	on, _ := takeover(w)
	current, ready := observed(w, st)
	var lostFrom []string
	isLive, isBase := index(liveSites), index(baseSites)
	for _, n := range baseSites {
		if _, ok := isLive[n]; !ok {
			lostFrom = append(lostFrom, n)
		}
	}
	var shares []Share
	allReady := true
	for _, n := range liveSites {
		s := Share{Name: n, Replicas: per, Reason: ReasonRule}
		if _, ok := isBase[n]; ok {
			s.Base = per
		} else if on {
			s.Takeover = per
			s.Reason = fmt.Sprintf("%s: in place of %s", ReasonTakeover, strings.Join(lostFrom, ","))
		} else {
			continue
		}
		if c := clustersOf(actual, n); ready[n] < per*c {
			allReady = false
		}
		shares = append(shares, s)
	}
	if len(lostFrom) > 0 && !on {
		d.Conditions = append(d.Conditions, "sites "+strings.Join(lostFrom, ",")+" unavailable and takeover is off")
	}
	// A site that runs the workload and is no longer placed keeps it until the placed
	// sites are ready. Only sites inside the bound and alive to the viewer are considered.
	if !allReady {
		for _, s := range st.Sites {
			if current[s.Name] == 0 || !s.Alive || slices.ContainsFunc(shares, func(x Share) bool { return x.Name == s.Name }) {
				continue
			}
			if len(w.Bound) > 0 && !slices.Contains(w.Bound, s.Jurisdiction) {
				continue
			}
			why := ReasonHold + ": kept until the placed sites are ready"
			if s.Draining {
				why = "draining; " + why
			}
			shares = append(shares, Share{Name: s.Name, Replicas: per, Hold: per, Reason: why})
		}
	}
	for _, n := range lostFrom {
		shares = append(shares, Share{Name: n, Base: per, Reason: "unavailable: dead to this site or no usable cluster"})
	}
	d.Sites = keep(shares)
}

func clustersOf(c candidates, site string) int {
	n := 0
	for _, cl := range c.clusters {
		if cl.Site == site {
			n++
		}
	}
	return n
}
