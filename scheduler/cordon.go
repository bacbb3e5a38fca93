package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// kept is what a cluster keeps of a workload without being placed: a cluster cordoned by
// a NoSchedule taint keeps what it runs, as part of the desired replicas (the others
// divide the rest); a cluster the workload was evicted from with purgeMode Never keeps
// what it runs beyond them, while the eviction is in force.
type kept struct {
	i     int // index into State.Clusters
	n     int // replicas (Duplicated: per cluster)
	extra bool
}

// keeps returns what clusters of live sites keep of the workload, in cluster order.
// Cordoned clusters keep at most what the desired replicas leave after what the other
// clusters of live sites run, so that a scale-down takes from the cordoned first and a
// cordoned cluster never gains a replica.
func (p *Planner) keeps(w *Workload, cs *clusterSet) []kept {
	never := false
	if a := w.application(); a != nil && a.Purge() == PurgeNever && !p.st.Now.IsZero() {
		never = true
	}
	if len(cs.cordoned) == 0 && !never || len(w.Status) == 0 {
		return nil
	}
	var out []kept
	dup := duplicated(w)
	per := max(w.Replicas, 1)
	if never {
		for i := range p.st.Clusters {
			o := w.Status[p.keys[i]]
			if p.alive[i] && p.st.Clusters[i].Healthy && o.Desired > 0 && w.Evicted(o, p.st.Now) {
				n := o.Desired
				if dup {
					n = per
				}
				out = append(out, kept{i: i, n: n, extra: true})
			}
		}
	}
	room := w.Replicas
	if !dup {
		for k, o := range w.Status {
			site, _, _ := strings.Cut(k, "/")
			if p.siteAlive(site) {
				room -= o.Desired
			}
		}
		for _, i := range cs.cordoned {
			if p.alive[i] {
				room += w.Status[p.keys[i]].Desired // not one of the others
			}
		}
		for _, k := range out {
			room += w.Status[p.keys[k.i]].Desired
		}
	}
	for _, i := range cs.cordoned {
		o := w.Status[p.keys[i]]
		if !p.alive[i] || o.Desired <= 0 || w.Evicted(o, p.st.Now) {
			continue
		}
		n := per
		if !dup {
			n = min(o.Desired, max(room, 0))
			room -= n
		}
		if n > 0 {
			out = append(out, kept{i: i, n: n})
		}
	}
	slices.SortFunc(out, func(a, b kept) int { return a.i - b.i })
	return out
}

// without returns the workload as the division sees it once the kept replicas are set
// aside: fewer desired replicas by the cordoned ones (Divided), and no replicas in the
// clusters that keep theirs or that an eviction with purgeMode Directly empties, so that
// no hold counts them. It returns w itself when nothing changes.
func (p *Planner) without(w *Workload, ks []kept) *Workload {
	var direct []string
	if a := w.application(); a != nil && a.Purge() == PurgeDirectly && !p.st.Now.IsZero() {
		for k, o := range w.Status {
			if o.Desired > 0 && w.Evicted(o, p.st.Now) {
				direct = append(direct, k)
			}
		}
	}
	if len(ks) == 0 && len(direct) == 0 {
		return w
	}
	v := *w
	v.Status = maps.Clone(w.Status)
	empty := func(k string) {
		o := v.Status[k]
		o.Desired, o.Ready = 0, 0
		v.Status[k] = o
	}
	for _, k := range direct {
		empty(k)
	}
	for _, k := range ks {
		empty(p.keys[k.i])
		if !k.extra && !duplicated(w) {
			v.Replicas -= k.n
		}
	}
	return &v
}

// addKeeps adds what clusters keep to their sites' shares of the division.
func (p *Planner) addKeeps(d *Division, ks []kept) {
	for _, k := range ks {
		c := &p.st.Clusters[k.i]
		j := slices.IndexFunc(d.Sites, func(s Share) bool { return s.Name == c.Site })
		if j < 0 {
			d.Sites = append(d.Sites, Share{Name: c.Site})
			j = len(d.Sites) - 1
		}
		s := &d.Sites[j]
		if d.Duplicated {
			if s.Replicas == 0 {
				s.Replicas, s.Base = k.n, k.n
				s.Reason = keepReason(c.Name, k)
			}
			continue
		}
		s.Replicas += k.n
		if k.extra {
			s.Hold += k.n
		} else {
			s.Base += k.n
		}
		s.Reason = strings.TrimPrefix(s.Reason+"; "+keepReason(c.Name, k), "; ")
	}
	d.Sites = keep(d.Sites)
}

// localKeeps returns the shares of the site's clusters that keep replicas, and how many
// of the site's share they take (Divided; Duplicated: none).
func (p *Planner) localKeeps(w *Workload, site string, ks []kept) (out []Share, taken int) {
	for _, k := range ks {
		c := &p.st.Clusters[k.i]
		if c.Site != site {
			continue
		}
		s := Share{Name: c.Name, Replicas: k.n, Reason: keepReason(c.Name, k)}
		if k.extra {
			s.Hold = k.n
		} else {
			s.Base = k.n
		}
		out = append(out, s)
		if !duplicated(w) {
			taken += k.n
		}
	}
	return out, taken
}

func keepReason(cluster string, k kept) string {
	if k.extra {
		return fmt.Sprintf("evicted from %s (purgeMode Never): its %d kept while the eviction is in force", cluster, k.n)
	}
	return fmt.Sprintf("cordoned (NoSchedule): %s keeps %d running, gets no new ones", cluster, k.n)
}
