package site

import (
	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/kube"
)

// A member cluster's controllers change an object's status (a Deployment's pods become
// ready) without any change of the federation's state, so nothing would wake a pass
// until the resync (Tuning.Reconcile). The appliers note such changes (kube.Applier
// OnStatus), and the reconcile loop then reports only those objects (refreshStatus),
// from what the last pass knew of them: no planning, no apply. A pass still reads every
// object's status, so a missed note costs at most the resync.

// reported is what the last pass knew of an object it applied, enough to read its status
// again: the workload, the replicas placed in that cluster and the workload as the
// scheduler saw it.
type reported struct {
	w        kube.Workload
	replicas int
	sched    *scheduler.Workload
}

// wakeStatus asks the reconcile loop to report changed status soon; it never blocks (an
// informer calls it).
func (s *Site) wakeStatus() {
	select {
	case s.statusWake <- struct{}{}:
	default:
	}
}

// refreshStatus writes, in one change, the status of the objects whose status changed in
// a member cluster since the last look, for those the last pass applied there; others
// wait for the next pass.
func (s *Site) refreshStatus(appliers map[string]*kube.Applier, out statusWriter) error {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	if s.removed() {
		return nil
	}
	var status []crdt.Op
	for cluster, a := range appliers {
		known := s.reported[cluster]
		for key, u := range a.Changed() {
			if r, ok := known[key]; ok {
				status = append(status, s.statusOps(r.w, cluster, r.replicas, u, r.sched)...)
			}
		}
	}
	if len(status) == 0 {
		return nil
	}
	s.metrics.statusRefreshes.Inc()
	return out.writeStatus(status)
}
