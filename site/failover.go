package site

import (
	"strconv"
	"time"

	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/kube"
)

// Application failover (docs/adr/0014-failover-controls.md): the site that owns a
// cluster is the one witness of how a workload fares there. It writes, in the workload's
// Status object for the cluster, when the workload became unhealthy there
// (crdt.UnhealthySince: fewer ready than desired, by Atoll's reading or a stored
// customization's healthInterpretation) and, once the policy's tolerationSeconds have
// passed, when it evicted it (crdt.EvictedAt). Every site's scheduler reads both against
// its own clock (scheduler.Workload.Evicted): no site decides from its memory of when
// something began.

// failoverFields are the Status fields of format level crdt.FormatFailover (and the
// reflected status, of the same level): written when a pass has them, deleted when it no
// longer does.
var failoverFields = []string{crdt.UnhealthySince, crdt.EvictedAt, crdt.Reflected}

// failoverStatus adds to cur, the Status fields a pass writes of w in one of this site's
// clusters, when w became unhealthy there (kept from the stored object while it stays
// unhealthy) and the eviction in force, or a new one when sw's application failover
// asks for it at now.
func (s *Site) failoverStatus(w kube.Workload, cluster string, sw *scheduler.Workload, cur map[string]string, now time.Time) {
	key := crdt.StatusKey(w.Namespace, w.Name, s.cfg.Name, cluster)
	s.mu.Lock()
	obj, _ := s.rep.Object(crdt.KindStatus, key)
	s.mu.Unlock()
	stamp := now.UTC().Format(time.RFC3339)
	desired, _ := strconv.Atoi(cur["desired"])
	ready, _ := strconv.Atoi(cur["ready"])
	o := scheduler.Observed{Desired: desired, Ready: ready}
	if desired > 0 && ready < desired {
		cur[crdt.UnhealthySince] = stamp
		if v, ok := obj[crdt.UnhealthySince]; ok {
			if t, err := time.Parse(time.RFC3339, string(v.Bytes)); err == nil {
				cur[crdt.UnhealthySince], o.UnhealthySince = string(v.Bytes), t
			}
		}
		if o.UnhealthySince.IsZero() {
			o.UnhealthySince = now
		}
	}
	if sw == nil {
		return
	}
	if v, ok := obj[crdt.EvictedAt]; ok {
		o.EvictedAt, _ = time.Parse(time.RFC3339, string(v.Bytes))
	}
	switch {
	case sw.Evicted(o, now):
		cur[crdt.EvictedAt] = o.EvictedAt.UTC().Format(time.RFC3339)
	case sw.EvictNow(o, now):
		cur[crdt.EvictedAt] = stamp
		s.events.add("failover", w.Namespace+"/"+w.Name, s.cfg.Name+"/"+cluster+": evicted "+w.Namespace+"/"+w.Name+
			", unhealthy since "+cur[crdt.UnhealthySince])
		s.log.Info("application failover: evicted", "workload", w.Namespace+"/"+w.Name, "cluster", cluster, "unhealthySince", cur[crdt.UnhealthySince])
	}
}

// evictedHere adds to evicted the Status keys of this site's clusters from which w's
// eviction is in force at now.
func (s *Site) evictedHere(w *scheduler.Workload, now time.Time, evicted map[string]bool) {
	if w.Policy.Failover == nil {
		return
	}
	for at, o := range w.Status {
		if !o.EvictedAt.IsZero() && w.Evicted(o, now) && len(at) > len(s.cfg.Name) && at[:len(s.cfg.Name)+1] == s.cfg.Name+"/" {
			evicted[w.Key+"/"+at] = true
		}
	}
}

// emptied returns the writes that make a kept Status object say the workload runs
// nothing there and is not unhealthy: its eviction stays.
func emptied(key string, obj crdt.StatusFields) []crdt.Op {
	var ops []crdt.Op
	for _, f := range []string{"desired", "ready", "available", "updated"} {
		if v := obj.Get(f); string(v) != "0" {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: key, Field: f, Value: []byte("0")})
		}
	}
	for _, f := range []string{crdt.UnhealthySince, crdt.Reflected} {
		if obj.Get(f) != nil {
			ops = append(ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindStatus, Key: key, Field: f})
		}
	}
	return ops
}
