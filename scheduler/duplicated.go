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
// workload before keeps it until every placed site is ready. The workload is observed
// (Planner.observe).
func (p *Planner) divideDuplicated(w *Workload, d *Division, nominal, actual *candidates) {
	st := p.st
	per := max(w.Replicas, 1)
	on, _ := takeover(w)
	var lostFrom []string
	for _, j := range nominal.sites {
		if !actual.has(j) {
			lostFrom = append(lostFrom, st.Sites[j].Name)
		}
	}
	var shares []Share
	allReady := true
	for k, j := range actual.sites {
		n := st.Sites[j].Name
		s := Share{Name: n, Replicas: per, Reason: ReasonRule}
		if nominal.has(j) {
			s.Base = per
		} else if on {
			s.Takeover = per
			s.Reason = fmt.Sprintf("%s: in place of %s", ReasonTakeover, strings.Join(lostFrom, ","))
		} else {
			continue
		}
		lo, hi := actual.from[k], len(actual.at)
		if k+1 < len(actual.from) {
			hi = actual.from[k+1]
		}
		if p.rdy[j] < per*(hi-lo) {
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
		for j, s := range st.Sites {
			if p.cur[j] == 0 || !s.Alive || slices.ContainsFunc(shares, func(x Share) bool { return x.Name == s.Name }) {
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
