package site

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"atoll/crdt"
	"atoll/scheduler"
)

// decisions remembers since when each share has been what it is, as this site computed
// it: per workload and site, and per workload and cluster of this site.
type decisions struct {
	mu    sync.Mutex
	since map[string]decision // "<ns>/<name>/<site>" or "<ns>/<name>/<site>/<cluster>"
}

type decision struct {
	replicas int
	reason   string
	since    time.Time
}

func newDecisions() *decisions { return &decisions{since: map[string]decision{}} }

func (d *decisions) set(now time.Time, key string, replicas int, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.since[key]; ok && old.replicas == replicas && old.reason == reason {
		return
	}
	d.since[key] = decision{replicas, reason, now}
}

func (d *decisions) record(now time.Time, div scheduler.Division) {
	for _, s := range div.Sites {
		d.set(now, div.Workload+"/"+s.Name, s.Replicas, s.Reason)
	}
}

func (d *decisions) recordCluster(now time.Time, workload, site string, c scheduler.Share) {
	d.set(now, workload+"/"+site+"/"+c.Name, c.Replicas, c.Reason)
}

func (d *decisions) get(key string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.since[key].since
}

// Placement explains a workload's placement as this site computes it now.
type Placement struct {
	Workload   string          `json:"workload"`
	Replicas   int             `json:"replicas"` // -1 for kinds without replicas
	Duplicated bool            `json:"duplicated"`
	Bound      []string        `json:"bound,omitempty"`
	Policy     string          `json:"policy,omitempty"` // where the placement came from
	Missing    int             `json:"missing"`
	Conditions []string        `json:"conditions,omitempty"`
	Sites      []SitePlacement `json:"sites"`
	Error      string          `json:"error,omitempty"`
}

// SitePlacement is one site's share and its clusters.
type SitePlacement struct {
	scheduler.Share
	Alive    bool               `json:"alive"`
	Since    time.Time          `json:"since,omitzero"`
	Clusters []ClusterPlacement `json:"clusters,omitempty"`
}

// ClusterPlacement is one cluster's replicas, with what its site reports.
type ClusterPlacement struct {
	scheduler.Share
	Since   time.Time `json:"since,omitzero"` // known for this site's own clusters
	Desired int       `json:"desired"`        // applied, as its site reports
	Ready   int       `json:"ready"`
}

// handlePlacement serves GET /v1/placement/{namespace}/{name}.
func (s *Site) handlePlacement(w http.ResponseWriter, r *http.Request) {
	key := crdt.WorkloadKey(r.PathValue("namespace"), r.PathValue("name"))
	alive, _ := s.aliveView(time.Now())
	s.mu.Lock()
	st := s.schedState(alive)
	ws := s.workloadsLocked()
	s.mu.Unlock()
	i := slices.IndexFunc(ws, func(x workload) bool { return x.sched.Key == key })
	if i < 0 {
		writeErr(w, http.StatusNotFound, fmt.Errorf("no workload %q", key))
		return
	}
	wl := &ws[i].sched
	out := Placement{Workload: key, Replicas: wl.Replicas, Bound: wl.Bound, Policy: wl.Policy.Source}
	if ws[i].err != nil {
		out.Error = ws[i].err.Error()
		writeJSON(w, http.StatusOK, out)
		return
	}
	p := scheduler.NewPlanner(st)
	d := p.Divide(wl)
	out.Duplicated, out.Missing, out.Conditions = d.Duplicated, d.Missing, d.Conditions
	for _, share := range d.Sites {
		sp := SitePlacement{Share: share, Since: s.decisions.get(key + "/" + share.Name)}
		sp.Alive = slices.ContainsFunc(st.Sites, func(x scheduler.Site) bool { return x.Name == share.Name && x.Alive })
		if share.Replicas > 0 {
			for _, c := range p.Local(wl, share) {
				o := wl.Status[share.Name+"/"+c.Name]
				sp.Clusters = append(sp.Clusters, ClusterPlacement{Share: c, Desired: o.Desired, Ready: o.Ready,
					Since: s.decisions.get(key + "/" + share.Name + "/" + c.Name)})
			}
		}
		out.Sites = append(out.Sites, sp)
	}
	writeJSON(w, http.StatusOK, out)
}
