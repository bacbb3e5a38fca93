package site

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/scheduler"
	"atoll/site/kube"
)

// View is the whole federation as one site sees it: what GET /v1/view returns, what the
// dashboard shows and what `atoll get` prints. It is computed from the replicated state
// and this site's view of liveness, so any site (or observer) gives the same answer for
// everything but liveness, convergence and events.
type View struct {
	Site       string         `json:"site"` // who computed it
	Role       string         `json:"role"` // site, leader, follower or observer
	At         time.Time      `json:"at"`
	Federation string         `json:"federation"`
	Digest     string         `json:"digest"`
	Changes    int            `json:"changes"`
	Pending    int            `json:"pending"` // changes waiting for their dependencies
	Sites      []SiteView     `json:"sites"`
	Clusters   []ClusterView  `json:"clusters"`
	Workloads  []WorkloadView `json:"workloads"`
	Events     []Event        `json:"events"`
	// Scope names the namespaces an operator's view was filtered to, comma-separated
	// ("-": none); empty when nothing was left out.
	Scope string `json:"scope,omitempty"`
	// Page is set when the caller asked for a page of the workloads (?limit, ?continue,
	// ?namespace, ?q): Workloads holds that page only.
	Page *ViewPage `json:"page,omitempty"`
}

// SiteView is one site of the charter.
type SiteView struct {
	Name         string `json:"name"`
	Region       string `json:"region"`
	Jurisdiction string `json:"jurisdiction"`
	// Draining: the charter marks it as leaving (site/<name>/drain); its share moves to
	// the others, and once it runs nothing it may be removed.
	Draining bool `json:"draining,omitempty"`
	Self     bool `json:"self,omitempty"`
	// Version is this site's binary version (site.Version); only for self: peers do not
	// advertise theirs yet.
	Version string `json:"version,omitempty"`
	// Alive is the scheduler's view from here, with hysteresis: a site that returns
	// counts as alive once it has settled.
	Alive bool      `json:"alive"`
	Live  bool      `json:"live"`           // the membership reports it live now
	Since time.Time `json:"since,omitzero"` // live since, or lost since
	// Changes is how many changes it advertises holding (this site: holds).
	Changes int  `json:"changes"`
	InSync  bool `json:"inSync"` // it advertises the same heads as this site
	// Lag is how long a change it advertised has been missing here, in seconds (0: none).
	Lag      float64 `json:"lagSeconds"`
	Clusters int     `json:"clusters"`
	Desired  int     `json:"desired"` // replicas its clusters run, as it reports
	Ready    int     `json:"ready"`
}

// ClusterView is one member cluster, as its site publishes it.
type ClusterView struct {
	Site       string            `json:"site"`
	Name       string            `json:"name"`
	Healthy    bool              `json:"healthy"`
	Reason     string            `json:"reason,omitempty"`
	Version    string            `json:"version,omitempty"`
	Nodes      int               `json:"nodes"`
	ReadyNodes int               `json:"readyNodes"`
	Provider   string            `json:"provider,omitempty"`
	Region     string            `json:"region,omitempty"`
	Zone       string            `json:"zone,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Taints     []string          `json:"taints,omitempty"` // key=value:Effect
	// TaintedAt is when the cluster's site set each taint, by key (RFC 3339; format level
	// crdt.FormatFailover): what a NoExecute toleration's tolerationSeconds count from.
	TaintedAt map[string]string `json:"taintedAt,omitempty"`
	// Allocatable and Available are sums over the ready nodes: cpu, memory, pods and the
	// extended resources (nvidia.com/gpu, ...; whole units), as kube.ReadCapacity bounds them.
	Allocatable map[string]string `json:"allocatable,omitempty"`
	Available   map[string]string `json:"available,omitempty"`
	// Ignored says what of the capacity the site published was not read, and why.
	Ignored []string `json:"ignored,omitempty"`
	Desired int      `json:"desired"` // replicas Atoll placed here, as its site reports
	Ready   int      `json:"ready"`
}

// WorkloadView is one workload: its placement as this site computes it, with status.
type WorkloadView struct {
	Placement
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Kind      string `json:"kind,omitempty"`
	// Allowed are the sites whose jurisdiction the bound admits (every site if unbound).
	Allowed []string `json:"allowed"`
	// Redacted: this site holds the signed header only, never the body.
	Redacted bool `json:"redacted,omitempty"`
	Desired  int  `json:"desired"` // replicas applied, summed over clusters
	Ready    int  `json:"ready"`
}

// view computes the View. Its cost is one scheduling pass over every workload; it stops
// with ctx's error when ctx is done (the client went away).
func (s *Site) view(ctx context.Context, now time.Time) (View, error) {
	alive, _ := s.aliveView(now)
	live, since := s.liveness()
	s.mu.Lock()
	st := s.schedState(alive)
	ws := s.workloadsLocked()
	ch := s.rep.Charter()
	v := View{Site: s.cfg.Name, Role: s.role(), At: now, Federation: ch.Name, Digest: s.rep.Digest().Hex(),
		Changes: s.rep.Len(), Pending: s.rep.PendingLen()}
	heads := s.rep.Heads()
	for _, sv := range st.Sites {
		x := SiteView{Name: sv.Name, Region: sv.Region, Jurisdiction: sv.Jurisdiction, Draining: sv.Draining, Alive: sv.Alive, Live: live[sv.Name], Since: since[sv.Name]}
		if sv.Name == s.cfg.Name {
			x.Self, x.Version, x.Live, x.Since, x.Changes, x.InSync = true, s.version, true, s.started, v.Changes, true
		} else if p, ok := s.core.Sync(sv.Name); ok && p.HaveMeta && live[sv.Name] {
			x.Changes = int(p.Meta.Changes)
			x.InSync, x.Lag = peerSync(p, heads, now)
		}
		v.Sites = append(v.Sites, x)
	}
	v.Clusters = s.clusterViewsLocked()
	s.mu.Unlock()

	pass, err := planPass(ctx, st, ws, s.cfg.Name, true, &s.viewPlans)
	if err != nil {
		return View{}, err
	}
	jur := map[string]string{}
	for _, x := range st.Sites {
		jur[x.Name] = x.Jurisdiction
	}
	bySite := map[string]scheduler.Observed{} // replicas each site reports, over its clusters
	perCluster := map[string]*ClusterView{}
	for i := range v.Clusters {
		perCluster[v.Clusters[i].Site+"/"+v.Clusters[i].Name] = &v.Clusters[i]
	}
	for i := range pass {
		w := pass[i].w
		ns, name, _ := strings.Cut(w.sched.Key, "/")
		wv := WorkloadView{Placement: s.placement(st, &pass[i]), Namespace: ns, Name: name, Kind: w.kind, Redacted: w.redacted}
		for _, x := range st.Sites {
			if len(w.sched.Bound) == 0 || slices.Contains(w.sched.Bound, x.Jurisdiction) {
				wv.Allowed = append(wv.Allowed, x.Name)
			}
		}
		for where, o := range w.sched.Status {
			wv.Desired += o.Desired
			wv.Ready += o.Ready
			site, _, _ := strings.Cut(where, "/")
			bySite[site] = scheduler.Observed{Desired: bySite[site].Desired + o.Desired, Ready: bySite[site].Ready + o.Ready}
			if c := perCluster[where]; c != nil {
				c.Desired += o.Desired
				c.Ready += o.Ready
			}
		}
		v.Workloads = append(v.Workloads, wv)
	}
	sortWorkloads(v.Workloads)
	for i := range v.Sites {
		x := &v.Sites[i]
		// Summed over its Status objects, so that a cluster it unjoined but still reports
		// counts too: removing a site waits for all of them.
		x.Desired, x.Ready = bySite[x.Name].Desired, bySite[x.Name].Ready
		for _, c := range v.Clusters {
			if c.Site == x.Name {
				x.Clusters++
			}
		}
	}
	v.Events, _ = s.events.recent(0)
	return v, nil
}

// clusterViewsLocked reads every cluster object. mu must be held.
func (s *Site) clusterViewsLocked() []ClusterView {
	var out []ClusterView
	for _, key := range s.rep.Keys(crdt.KindCluster, "") {
		site, name, _ := strings.Cut(key, "/")
		obj, _ := s.rep.Object(crdt.KindCluster, key)
		c := ClusterView{Site: site, Name: name}
		num := func(f string) int { n, _ := strconv.Atoi(string(obj[f].Bytes)); return n }
		c.Nodes, c.ReadyNodes = num("nodes"), num("readyNodes")
		for f, v := range obj {
			val := string(v.Bytes)
			switch {
			case f == "health":
				c.Healthy = val == "healthy"
			case f == "reason":
				c.Reason = val
			case f == "k8sVersion":
				c.Version = val
			case f == "provider":
				c.Provider = val
			case f == "region":
				c.Region = val
			case f == "zone":
				c.Zone = val
			case strings.HasPrefix(f, "labels/"):
				c.Labels = put(c.Labels, f[len("labels/"):], val)
			case strings.HasPrefix(f, "taints/"):
				c.Taints = append(c.Taints, f[len("taints/"):]+"="+val)
			case strings.HasPrefix(f, crdt.TaintedAtPrefix):
				c.TaintedAt = put(c.TaintedAt, f[len(crdt.TaintedAtPrefix):], val)
			case strings.HasPrefix(f, "allocatable/"):
				c.Allocatable = put(c.Allocatable, f[len("allocatable/"):], val)
			case strings.HasPrefix(f, "available/") && !strings.HasPrefix(f, "available/node/"):
				c.Available = put(c.Available, f[len("available/"):], val)
			}
		}
		slices.Sort(c.Taints)
		c.Ignored = kube.ReadCapacity(c.Allocatable, c.Available)
		out = append(out, c)
	}
	return out
}

func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// peerSync says how far a peer is from this site, from what anti-entropy knows of it:
// whether it advertises the same heads as heads, and for how long a change it advertised
// has been missing here, in seconds (0: none is).
func peerSync(p peering.PeerSync, heads []crdt.Hash, now time.Time) (inSync bool, lag float64) {
	inSync = p.HaveMeta && !p.Meta.More && sameHeads(p.Meta.Heads, heads)
	if !p.Behind.IsZero() {
		lag = now.Sub(p.Behind).Seconds()
	}
	return inSync, lag
}

func sameHeads(advertised [][32]byte, heads []crdt.Hash) bool {
	return slices.EqualFunc(advertised, heads, func(a [32]byte, b crdt.Hash) bool { return a == b })
}

// liveness returns the sites the membership reports live, and since when each has been
// live or lost.
func (s *Site) liveness() (live map[string]bool, since map[string]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Liveness()
}

// role names what this process is: site (one replica), leader or follower.
func (s *Site) role() string {
	switch {
	case s.cfg.Observer:
		return "observer"
	case s.raft == nil:
		return "site"
	case s.leader():
		return "leader"
	}
	return "follower"
}
