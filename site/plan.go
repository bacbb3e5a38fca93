package site

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/scheduler"
)

// One scheduling pass, as data. The reconciler, the view and describe all take a
// snapshot of the state (schedState, workloadsLocked), then call planPass on it: it reads
// nothing else, changes nothing and records nothing. What the reconciler does with a
// plan (decisions, events, refusals, what it applies) is in workloads.go; how the view
// and describe explain one is placement, below.

// planned is one workload divided in one pass.
type planned struct {
	w   *workload
	div scheduler.Division // zero when w.err is set: the workload is not divided
	// local holds the clusters' shares of each site's share with replicas: this site's
	// always, every site's when the pass explains.
	local map[string][]scheduler.Share
	// refusals are what this site refuses of the workload, and why.
	refusals []refusal
	// dependents are the workloads placed with propagateDeps whose pods refer to it: it
	// goes where they run (deps.go).
	dependents []string
}

// refusal is a refusal to actuate: its kind (an audit and event type) and its reason.
type refusal struct{ why, reason string }

// passCache keeps one caller's previous pass (the reconciler's, the view's), so that
// its next pass re-plans only the workloads whose inputs, sites or clusters changed
// (scheduler.Replanner): the same plans as a full pass. It versions the workloads it
// gives the Replanner (versions.go). The zero value is ready. A pass that finds it in
// use plans in full without it.
type passCache struct {
	mu       sync.Mutex
	rp       *scheduler.Replanner
	passes   uint64             // through the cache
	versions map[string]version // by workload key, those given in the previous pass
}

// plan plans the workloads of ws that are divided, through the cache; nil if the cache
// is in use. It sets their versions (scheduler.Workload.Version). The plans are shared
// with the cache: they must not be changed.
func (c *passCache) plan(st *scheduler.State, ws []workload, self string, explain bool) []*scheduler.Plan {
	if !c.mu.TryLock() {
		return nil
	}
	defer c.mu.Unlock()
	if c.rp == nil {
		if explain {
			self = "" // every site's shares are placed
		}
		c.rp = scheduler.NewReplanner(self)
	}
	c.passes++
	var in []*scheduler.Workload
	var at []int
	versions := make(map[string]version, len(ws))
	for i := range ws {
		if ws[i].err == nil && ws[i].unplaced == "" {
			v := c.versionOf(&ws[i])
			ws[i].sched.Version, versions[ws[i].sched.Key] = v.n, v
			in, at = append(in, &ws[i].sched), append(at, i)
		}
	}
	c.versions = versions
	got := c.rp.Plan(st, in)
	out := make([]*scheduler.Plan, len(ws))
	for k, i := range at {
		out[i] = &got[k]
	}
	return out
}

// planPass divides every workload of ws over st as the site named self sees it. With
// explain it also places every site's share in its clusters, for the view and describe;
// without, only self's, for the reconciler. With a cache, it re-plans only what changed
// since the cache's previous pass; the cache must always be used with the same self and
// explain. It stops with ctx's error when ctx is done.
func planPass(ctx context.Context, st *scheduler.State, ws []workload, self string, explain bool, cache *passCache) ([]planned, error) {
	var plans []*scheduler.Plan
	if cache != nil {
		plans = cache.plan(st, ws, self, explain)
	}
	var p *scheduler.Planner
	if plans == nil {
		p = scheduler.NewPlanner(st)
	}
	i := slices.IndexFunc(st.Sites, func(x scheduler.Site) bool { return x.Name == self })
	mine := ""
	if i >= 0 {
		mine = st.Sites[i].Jurisdiction
	}
	out := make([]planned, len(ws))
	index := make(map[string]int, len(ws))
	for i := range ws {
		index[ws[i].sched.Key] = i
	}
	for i := range ws {
		for _, d := range ws[i].deps {
			if j, ok := index[d]; ok && ws[i].err == nil && ws[i].unplaced == "" {
				out[j].dependents = append(out[j].dependents, ws[i].sched.Key)
			}
		}
	}
	for i := range ws {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w := &ws[i]
		pl := &out[i]
		pl.w = w
		if w.err != nil {
			if w.refusal != "" {
				pl.refusals = append(pl.refusals, refusal{w.refusal, w.err.Error()})
			}
			continue
		}
		if w.unplaced != "" {
			continue // stored, but no policy places it: not divided
		}
		var plan *scheduler.Plan
		if plans != nil {
			plan = plans[i]
			pl.div = plan.Division
		} else {
			pl.div = p.Divide(&w.sched)
		}
		outside := len(w.sched.Bound) > 0 && !slices.Contains(w.sched.Bound, mine)
		for _, share := range pl.div.Sites {
			if share.Replicas == 0 || (share.Name != self && !explain) {
				continue
			}
			if share.Name == self && outside {
				// The scheduler never places it here; if it did, refuse and record it.
				pl.refusals = append(pl.refusals, refusal{"residency", fmt.Sprintf("placed here, but the bound %v excludes jurisdiction %s", w.sched.Bound, mine)})
				if !explain {
					continue
				}
			}
			if pl.local == nil {
				pl.local = map[string][]scheduler.Share{}
			}
			if plan != nil {
				pl.local[share.Name] = plan.Local[share.Name]
			} else {
				pl.local[share.Name] = p.Local(&w.sched, share)
			}
		}
		if outside && names(&w.sched.Policy, self) {
			pl.refusals = append(pl.refusals, refusal{"residency", fmt.Sprintf("the placement names this site's clusters, but the bound %v excludes jurisdiction %s", w.sched.Bound, mine)})
		}
	}
	return out, nil
}

// names reports whether a placement names a cluster of site explicitly ("site/cluster").
func names(p *scheduler.Policy, site string) bool {
	affs := []*scheduler.ClusterAffinity{p.ClusterAffinity}
	for i := range p.ClusterAffinities {
		affs = append(affs, &p.ClusterAffinities[i].ClusterAffinity)
	}
	for _, a := range affs {
		if a != nil && slices.ContainsFunc(a.ClusterNames, func(n string) bool { return strings.HasPrefix(n, site+"/") }) {
			return true
		}
	}
	return false
}

// placement explains one workload of a pass that explains.
func (s *Site) placement(st *scheduler.State, pl *planned) Placement {
	w := pl.w
	wl := &w.sched
	out := Placement{Workload: wl.Key, Replicas: wl.Replicas, Bound: wl.Bound, Policy: wl.Policy.Source}
	if w.err != nil {
		out.Error = w.err.Error()
		return out
	}
	if len(pl.dependents) > 0 {
		out.Conditions = append(out.Conditions, "a dependency of "+strings.Join(pl.dependents, ", ")+" (propagateDeps): it goes to the clusters where they run")
	}
	if w.unplaced != "" && len(pl.dependents) == 0 {
		out.Conditions = []string{w.unplaced}
		return out
	}
	if w.unplaced != "" {
		return out
	}
	d := pl.div
	out.Duplicated, out.Missing, out.Conditions = d.Duplicated, d.Missing, slices.Clone(d.Conditions)
	out.Job = sumJobs(w.jobs)
	for _, share := range d.Sites {
		sp := SitePlacement{Share: share, Since: s.decisions.get(wl.Key + "/" + share.Name)}
		sp.Alive = slices.ContainsFunc(st.Sites, func(x scheduler.Site) bool { return x.Name == share.Name && x.Alive })
		for _, c := range pl.local[share.Name] {
			where := share.Name + "/" + c.Name
			o, reported := wl.Status[where]
			sp.Clusters = append(sp.Clusters, ClusterPlacement{Share: c, Desired: o.Desired, Ready: o.Ready, UnhealthySince: o.UnhealthySince,
				Since: s.decisions.get(wl.Key + "/" + where), Refused: w.refusals[where], Reported: reported, Job: jobAt(w.jobs, where)})
			if r, ok := w.reflected[where]; ok && json.Valid([]byte(r)) {
				sp.Clusters[len(sp.Clusters)-1].Reflected = json.RawMessage(r)
			}
			if why := w.refusals[where]; why != "" {
				out.Conditions = append(out.Conditions, "refused by "+where+": "+why)
			}
		}
		out.Sites = append(out.Sites, sp)
	}
	if f := wl.Policy.Failover; f != nil && f.Application != nil {
		for _, where := range slices.Sorted(maps.Keys(wl.Status)) {
			if o := wl.Status[where]; wl.Evicted(o, st.Now) {
				e := Eviction{Cluster: where, At: o.EvictedAt, Until: o.EvictedAt.Add(f.Application.GracePeriod())}
				out.Evictions = append(out.Evictions, e)
				out.Conditions = append(out.Conditions, fmt.Sprintf("evicted from %s at %s until %s (application failover, purgeMode %s)",
					where, e.At.UTC().Format(time.RFC3339), e.Until.UTC().Format(time.RFC3339), f.Application.Purge()))
			}
		}
	}
	return out
}
