package site

import (
	"encoding/json"
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

// set records a decision. It returns the previous one if this one differs from it.
func (d *decisions) set(now time.Time, key string, replicas int, reason string) (prev decision, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.since[key]
	if ok && old.replicas == replicas && old.reason == reason {
		return old, false
	}
	d.since[key] = decision{replicas, reason, now}
	return old, ok
}

// record records every site's share of a division and calls changed for each share that
// differs from the one recorded before.
func (d *decisions) record(now time.Time, div scheduler.Division, changed func(prev decision, s scheduler.Share)) {
	for _, s := range div.Sites {
		if prev, ok := d.set(now, div.Workload+"/"+s.Name, s.Replicas, s.Reason); ok {
			changed(prev, s)
		}
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
	// Job is a Job's counts summed over the clusters that report them (format level 2).
	Job *JobCounts `json:"job,omitempty"`
	// Evictions are the clusters the workload is evicted from, in force (application
	// failover, format level 4).
	Evictions []Eviction `json:"evictions,omitempty"`
	// Status is a custom resource's status aggregated over its clusters by the stored
	// customization's statusAggregation, from what each cluster's statusReflection read
	// (format level 4; describe only).
	Status json.RawMessage `json:"status,omitempty"`
}

// Eviction is a workload's eviction from one cluster: written by that cluster's site,
// in force until Until by this site's clock.
type Eviction struct {
	Cluster string    `json:"cluster"` // <site>/<cluster>
	At      time.Time `json:"at"`
	Until   time.Time `json:"until"`
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
	Refused string    `json:"refused,omitempty"` // why its site refuses to run the workload there
	// Reported: its site reports the workload there (a Status object exists). Kinds that
	// run whole report what the cluster means to run in Desired (a DaemonSet: its pods by
	// node), which may be 0.
	Reported bool `json:"reported,omitempty"`
	// UnhealthySince is when its site saw the workload become unhealthy there (format
	// level 4; zero while healthy).
	UnhealthySince time.Time `json:"unhealthySince,omitzero"`
	// Job is a Job's counts there (format level 2).
	Job *JobCounts `json:"job,omitempty"`
	// Reflected is what a stored customization's statusReflection read of the object
	// there (format level 4).
	Reflected json.RawMessage `json:"reflected,omitempty"`
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
	pass, err := planPass(r.Context(), st, ws[i:i+1], s.cfg.Name, true, nil)
	if err != nil {
		return // the client went away
	}
	p := s.placement(st, &pass[0])
	s.aggregatedStatus(&p, pass[0].w)
	writeJSON(w, http.StatusOK, p)
}
