package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"atoll/crdt"
	"atoll/site/kube"
)

// clustersLoop keeps one observer per joined cluster and publishes what they see as the
// site's Cluster objects, writing only fields that changed.
func (s *Site) clustersLoop(ctx context.Context) {
	defer s.wg.Done()
	observers := map[string]*kube.Observer{}
	published := map[string]*publication{}
	defer func() {
		for _, o := range observers {
			o.Stop()
		}
	}()
	s.joinDeclared()
	t := time.NewTicker(s.observeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.clustersWake:
		}
		if s.removed() {
			continue // its Cluster objects would be refused everywhere
		}
		entries, err := s.kubes.List()
		if err != nil {
			s.log.Error("member clusters", "err", err)
			continue
		}
		seen := map[string]bool{}
		for _, e := range entries {
			seen[e.Name] = true
			o := observers[e.Name]
			if o == nil {
				cfg, err := s.kubes.Config(e.Name)
				if err == nil {
					o, err = kube.NewObserver(ctx, e, cfg)
				}
				if err != nil {
					s.log.Error("member cluster", "cluster", e.Name, "err", err)
					continue
				}
				observers[e.Name] = o
				s.log.Info("observing member cluster", "cluster", e.Name)
			}
			o.SetEntry(e) // joined again with other labels or taints: published below
			if published[e.Name] == nil {
				published[e.Name] = &publication{}
			}
			s.publishCluster(ctx, e.Name, o, published[e.Name])
		}
		for name, o := range observers {
			if !seen[name] {
				o.Stop()
				delete(observers, name)
				delete(published, name)
			}
		}
	}
}

// publication is what the clusters loop remembers of one cluster's publications.
type publication struct {
	capacity time.Time // the last time its capacity was published
	ignored  string    // what of its nodes' extended resources was left out, last said
	failures int       // failed probes in a row while it is published healthy
}

// probed is the health to publish of a cluster published healthy (was) whose probe now
// says ok, after failures failed probes in a row before it, and how many there are now.
// A healthy cluster is published unhealthy only at the threshold-th failed probe in a
// row (Tuning.ClusterFailures): on a loaded apiserver one probe that times out is not a
// failure of the cluster, and publishing it as one would move its replicas onto the
// clusters that are loaded the most. An unhealthy cluster is healthy again at its first
// good probe.
func probed(was, ok bool, failures, threshold int) (healthy bool, now int) {
	switch {
	case ok:
		return true, 0
	case !was:
		return false, 0
	case failures+1 < threshold:
		return true, failures + 1
	}
	return false, 0
}

// publishCluster writes the fields of one cluster that changed since the state last said.
func (s *Site) publishCluster(ctx context.Context, name string, o *kube.Observer, pub *publication) {
	snap := o.Snapshot(ctx)
	key := crdt.ClusterKey(s.cfg.Name, name)
	if ignored := strings.Join(snap.Capacity.Ignored, "; "); ignored != pub.ignored {
		pub.ignored = ignored
		if ignored != "" { // the member cluster's nodes advertise more than a record may hold
			s.log.Warn("member cluster: extended resources left out", "cluster", name, "why", ignored)
			s.events.add("cluster", key, key+": extended resources left out: "+ignored)
		}
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if !s.joined(name) {
		return // unjoined while it was observed: its object is gone and stays gone
	}
	prev := map[string]string{}
	s.mu.Lock()
	format := s.rep.Charter().Format()
	if obj, ok := s.rep.Object(crdt.KindCluster, key); ok {
		for f, v := range obj {
			prev[f] = string(v.Bytes)
		}
	}
	s.mu.Unlock()
	healthy, failures := probed(prev["health"] == "healthy", snap.Healthy, pub.failures, s.cfg.Tuning.ClusterFailures)
	if healthy && !snap.Healthy {
		s.log.Debug("member cluster probe failed; still healthy", "cluster", name, "failures", failures, "reason", snap.Reason)
		snap.Healthy, snap.Reason = true, ""
	}
	pub.failures = failures
	now := time.Now()
	withCapacity := now.Sub(pub.capacity) >= s.cfg.Tuning.Capacity
	cur := snap.Fields()
	if format >= crdt.FormatFailover {
		stampTaints(prev, cur, now)
	}
	ops := kube.Ops(key, prev, cur, withCapacity)
	if len(ops) == 0 {
		return
	}
	ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: key, Field: "observed", Value: []byte(now.UTC().Format(time.RFC3339))})
	if _, _, err := s.record(ops); err != nil {
		s.log.Error("publishing member cluster", "cluster", name, "err", err)
		return
	}
	for _, op := range ops {
		if op.Field == "available/cpu" {
			pub.capacity = now
		}
	}
	if prev["health"] != snap.Fields()["health"] {
		s.log.Info("member cluster health", "cluster", name, "health", snap.Fields()["health"], "reason", snap.Reason)
		s.events.add("cluster", key, strings.TrimSpace(fmt.Sprintf("%s is %s %s", key, snap.Fields()["health"], snap.Reason)))
	}
}

// stampTaints adds to a cluster's fields when each of its taints began
// (crdt.TaintedAtPrefix): kept from prev while the taint stays the same, now for a new or
// changed one, so that every site counts a NoExecute toleration's tolerationSeconds from
// the one moment this site saw. A taint set before the charter reached format level
// crdt.FormatFailover is stamped when it does.
func stampTaints(prev, cur map[string]string, now time.Time) {
	for f, v := range cur {
		k, ok := strings.CutPrefix(f, "taints/")
		if !ok {
			continue
		}
		at := crdt.TaintedAtPrefix + k
		if p, had := prev[at]; had && prev[f] == v {
			cur[at] = p
		} else {
			cur[at] = now.UTC().Format(time.RFC3339)
		}
	}
}

// joinDeclared joins the member clusters site.yaml declares (Config.Clusters) that the
// registry does not already hold as declared. It runs where the site's leader starts its
// member clusters, so with replicas the joins go through the Raft log like any other. A
// cluster that cannot be joined is logged and recorded as an event; the others, and the
// site, carry on.
func (s *Site) joinDeclared() {
	for _, c := range s.cfg.Clusters {
		key := crdt.ClusterKey(s.cfg.Name, c.Name)
		kc, err := os.ReadFile(s.cfg.Path(c.Kubeconfig))
		req := JoinRequest{Name: c.Name, Kubeconfig: string(kc), Labels: c.Labels, Taints: c.Taints}
		if err == nil && s.kubes.Holds(req.entry(), kc) {
			continue
		}
		if err == nil {
			err = s.JoinCluster(req)
		}
		if err != nil {
			s.log.Error("joining a cluster of site.yaml", "cluster", c.Name, "err", err)
			s.events.add("cluster", key, fmt.Sprintf("%s from site.yaml not joined: %v", key, err))
			continue
		}
		s.log.Info("joined a cluster of site.yaml", "cluster", c.Name, "labels", c.Labels, "taints", c.Taints)
		s.events.add("cluster", key, key+" joined from site.yaml")
	}
}

// JoinCluster registers a member cluster with this site.
func (s *Site) JoinCluster(req JoinRequest) error {
	name, kubeconfig := req.Name, []byte(req.Kubeconfig)
	if s.cfg.Observer {
		return ErrObserver
	}
	if !s.leader() {
		return ErrNotLeader
	}
	if s.raft != nil { // every replica stores the credentials, through the log
		if err := kube.CheckKubeconfig(kubeconfig); err != nil {
			return fmt.Errorf("cluster %s: kubeconfig: %w", name, err)
		}
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		return s.replicate(entryJoin, b)
	}
	if err := s.kubes.Join(req.entry(), kubeconfig); err != nil {
		return err
	}
	s.wakeClusters()
	return nil
}

// TaintCluster sets the taints of a joined cluster (each "key=value:Effect" or
// "key:Effect", one per key), replacing its own: the cluster is joined again with them,
// and the site publishes them, each stamped with when it began (stampTaints).
func (s *Site) TaintCluster(name string, taints []string) error {
	e, kc, err := s.kubes.Retaint(name, taints)
	if err != nil {
		return err
	}
	return s.JoinCluster(JoinRequest{Name: e.Name, Kubeconfig: string(kc), Labels: e.Labels, Taints: e.Taints})
}

// ErrLeftBehind is wrapped by UnjoinCluster's error when the cluster was unjoined but what
// Atoll created there could not all be deleted (the cluster was down, say).
var ErrLeftBehind = errors.New("objects left behind")

// UnjoinCluster deletes what Atoll created in a member cluster (and only that), forgets
// the cluster and its credentials, and removes its Cluster object from the state. If the
// cluster cannot be reached, it is unjoined anyway and the error says what was left.
func (s *Site) UnjoinCluster(ctx context.Context, name string) error {
	if !s.leader() {
		return ErrNotLeader
	}
	cfg, err := s.kubes.Config(name)
	if err != nil {
		return err
	}
	s.reconcileMu.Lock() // no reconcile pass may re-create objects while they go
	defer s.reconcileMu.Unlock()
	var cleanup error
	a, err := kube.NewApplier(cfg, 0, s.log.With("cluster", name))
	if err == nil {
		defer a.Stop()
		var deleted []string
		deleted, err = a.Prune(ctx, nil)
		s.log.Info("unjoin: deleted Atoll's objects", "cluster", name, "objects", len(deleted))
	}
	if err != nil {
		cleanup = fmt.Errorf("%w: cluster %s unjoined, but Atoll's objects may remain in it: %w", ErrLeftBehind, name, err)
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if s.raft != nil {
		err = s.replicate(entryUnjoin, []byte(name))
	} else {
		err = s.kubes.Unjoin(name)
	}
	if err != nil {
		return err
	}
	s.wakeClusters()
	if _, _, err := s.record([]crdt.Op{{Type: crdt.OpRemove, Kind: crdt.KindCluster, Key: crdt.ClusterKey(s.cfg.Name, name)}}); err != nil {
		return err
	}
	return cleanup
}

// joined reports whether the cluster is in the registry.
func (s *Site) joined(name string) bool {
	entries, err := s.kubes.List()
	return err == nil && slices.ContainsFunc(entries, func(e kube.Entry) bool { return e.Name == name })
}

func (s *Site) wakeClusters() {
	select {
	case s.clustersWake <- struct{}{}:
	default:
	}
}
