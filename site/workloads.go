package site

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/crdt"
	"atoll/site/member"
)

// reconcileInterval is how often the workload reconciler runs when nothing changes.
const reconcileInterval = 5 * time.Second

// reconcileLoop applies this site's share of every workload into its healthy member
// clusters, level-based: each pass computes everything from the state, applies what
// differs, prunes what Atoll created and no longer wants, and publishes status.
func (s *Site) reconcileLoop(ctx context.Context) {
	defer s.wg.Done()
	appliers := map[string]*member.Applier{}
	t := time.NewTicker(reconcileInterval)
	defer t.Stop()
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		s.reconcile(ctx, appliers)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-arrived:
			// Let a burst of changes land before the next pass.
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// clustersReady returns this site's joined clusters its own state calls healthy, sorted.
func (s *Site) clustersReady() []string {
	entries, err := s.members.List()
	if err != nil {
		s.log.Error("member clusters", "err", err)
		return nil
	}
	var out []string
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if v, ok := s.rep.Get(crdt.KindCluster, crdt.ClusterKey(s.cfg.Name, e.Name), "health"); ok && string(v.Bytes) == "healthy" {
			out = append(out, e.Name)
		}
	}
	return out
}

// workloads reads every workload this site can render, with the site's share of its
// replicas (an even split over the sites allowed to run it, until the scheduler lands).
func (s *Site) workloads() (ws []member.Workload, shares []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.rep.Charter()
	for _, key := range s.rep.Keys(crdt.KindWorkload, "") {
		obj, _ := s.rep.Object(crdt.KindWorkload, key)
		ns, name, _ := strings.Cut(key, "/")
		w := member.Workload{Namespace: ns, Name: name}
		rv, ok := obj["replicas"]
		r, err := member.ParseReplicas(string(rv.Bytes), ok)
		if err != nil {
			s.log.Warn("workload skipped", "workload", key, "err", err)
			continue
		}
		w.Replicas = r
		if v, ok := obj["template"]; ok && !v.Redacted {
			w.Template = v.Bytes
		}
		if v, ok := obj["overrides"]; ok && !v.Redacted {
			w.Overrides = v.Bytes
		}
		if v, ok := obj["bound"]; ok && len(v.Bytes) > 0 {
			w.Bound = strings.Split(string(v.Bytes), ",")
		}
		var newest uint64
		for _, v := range obj {
			if v.Lamport >= newest {
				newest, w.Change = v.Lamport, v.Change.Hex()
			}
		}
		// Sites allowed to run it: all, or those whose charter jurisdiction is in the bound.
		var eligible []string
		for _, site := range ch.SiteNames() {
			info, _ := ch.SiteByName(site)
			if len(w.Bound) == 0 || slices.Contains(w.Bound, info.Jurisdiction) {
				eligible = append(eligible, site)
			}
		}
		i := slices.Index(eligible, s.cfg.Name)
		if i < 0 {
			continue // outside the bound: never actuate it here
		}
		if w.Template == nil {
			continue // no template yet (a body still on its way)
		}
		ws = append(ws, w)
		shares = append(shares, member.Share(w.Replicas, len(eligible), i))
	}
	return ws, shares
}

func (s *Site) reconcile(ctx context.Context, appliers map[string]*member.Applier) {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	clusters := s.clustersReady()
	ws, shares := s.workloads()
	var status []crdt.Op // written in one change at the end of the pass
	for name, a := range appliers {
		if !slices.Contains(clusters, name) {
			a.Stop()
			delete(appliers, name)
		}
	}
	for j, cluster := range clusters {
		a := appliers[cluster]
		if a == nil {
			cfg, err := s.members.Config(cluster)
			if err == nil {
				a, err = member.NewApplier(cfg, s.cfg.Resync.D())
			}
			if err != nil {
				s.log.Error("member cluster client", "cluster", cluster, "err", err)
				continue
			}
			appliers[cluster] = a
		}
		keep := map[string]bool{}
		failed := false
		namespaces := map[string]bool{}
		for i, w := range ws {
			replicas := member.Share(shares[i], len(clusters), j)
			u, err := member.Render(w, s.cfg.Name, cluster, replicas)
			if err != nil {
				s.log.Warn("workload not rendered", "workload", w.Namespace+"/"+w.Name, "err", err)
				continue
			}
			if w.Divides(u.GetKind()) && replicas == 0 {
				continue // no share here: pruned below if it was there before
			}
			if !namespaces[w.Namespace] {
				if err := a.EnsureNamespace(ctx, w.Namespace); err != nil {
					s.log.Warn("namespace", "cluster", cluster, "namespace", w.Namespace, "err", err)
					failed = true
					continue
				}
				namespaces[w.Namespace] = true
			}
			got, key, err := a.Apply(ctx, u)
			if key != "" {
				keep[key] = true
			}
			if err != nil {
				s.log.Warn("apply", "cluster", cluster, "workload", w.Namespace+"/"+w.Name, "err", err)
				failed = true
				continue
			}
			status = append(status, s.statusOps(w, cluster, replicas, got)...)
		}
		if failed {
			continue // prune only after a clean pass
		}
		deleted, err := a.Prune(ctx, keep)
		if err != nil {
			s.log.Warn("prune", "cluster", cluster, "err", err)
		}
		for _, key := range deleted {
			s.log.Info("pruned", "cluster", cluster, "object", key)
		}
	}
	status = append(status, s.dropStatus(ws, clusters)...)
	if len(status) > 0 {
		if _, err := s.Write(status); err != nil {
			s.log.Error("status", "err", err)
		}
	}
}

// statusOps returns the writes that bring a workload's Status object in one cluster up to
// date; none when nothing changed.
func (s *Site) statusOps(w member.Workload, cluster string, desired int, u *unstructured.Unstructured) []crdt.Op {
	key := crdt.StatusKey(w.Namespace, w.Name, s.cfg.Name, cluster)
	num := func(f string) string {
		v, _, _ := unstructured.NestedInt64(u.Object, "status", f)
		return strconv.FormatInt(v, 10)
	}
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	cur := map[string]string{
		"desired": strconv.Itoa(desired), "ready": num("readyReplicas"), "available": num("availableReplicas"),
		"updated": num("updatedReplicas"), "observed": strconv.FormatInt(gen, 10), "conditions": conditions(u),
	}
	if !w.Divides(u.GetKind()) {
		cur = map[string]string{"desired": "1", "ready": "1", "available": "1", "updated": "1", "observed": "1", "conditions": conditions(u)}
	}
	var ops []crdt.Op
	s.mu.Lock()
	obj, _ := s.rep.Object(crdt.KindStatus, key)
	s.mu.Unlock()
	for _, f := range []string{"desired", "ready", "available", "updated", "observed", "conditions"} {
		if v, ok := obj[f]; !ok || string(v.Bytes) != cur[f] {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: key, Field: f, Value: []byte(cur[f])})
		}
	}
	return ops
}

// dropStatus returns the removes of this site's Status objects for workloads or clusters
// it no longer runs.
func (s *Site) dropStatus(ws []member.Workload, clusters []string) []crdt.Op {
	want := map[string]bool{}
	for _, w := range ws {
		for _, c := range clusters {
			want[crdt.StatusKey(w.Namespace, w.Name, s.cfg.Name, c)] = true
		}
	}
	s.mu.Lock()
	var ops []crdt.Op
	for _, key := range s.rep.Keys(crdt.KindStatus, "") {
		parts := strings.Split(key, "/")
		if len(parts) == 4 && parts[2] == s.cfg.Name && !want[key] {
			ops = append(ops, crdt.Op{Type: crdt.OpRemove, Kind: crdt.KindStatus, Key: key})
		}
	}
	s.mu.Unlock()
	return ops
}

// conditions summarizes an object's status conditions as "Type=Status,..." in their order
// ("" if it has none).
func conditions(u *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	for _, c := range cs {
		m, _ := c.(map[string]any)
		t, _ := m["type"].(string)
		st, _ := m["status"].(string)
		if t != "" {
			parts = append(parts, t+"="+st)
		}
	}
	return strings.Join(parts, ",")
}
