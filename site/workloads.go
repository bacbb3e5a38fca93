package site

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/kube"
)

// reconcileLoop applies this site's share of every workload into its healthy member
// clusters, level-based: each pass divides every workload from the state, applies what
// differs, prunes what Atoll created and no longer wants, and publishes status. A pass
// runs when the site's view of liveness changes, Tuning.ReconcileBurst after changes
// arrive, when the last pass asked for one (passResult.RequeueAfter), and at the latest
// Tuning.Reconcile (30s) after a clean pass, which reads the member clusters' status
// again. A member cluster that drifts from what Atoll applied (an object deleted or its
// spec edited by someone else, an autoscaler come or gone: kube.Applier OnDrift) wakes
// a pass Tuning.ReconcileBurst later, as changes do. Soft records alone (status and
// capacity, from any site) wake a pass no sooner than Tuning.SoftPassPace times the last
// pass's duration after it ended, so that a federation busy reporting status keeps a
// site's passes to a share of a core. A pass that did not complete is retried with
// exponential backoff (Tuning.ReconcileBackoff, doubling up to
// Tuning.ReconcileBackoffMax) until one is clean. Between passes it reports the status
// its member clusters changed (refreshStatus).
func (s *Site) reconcileLoop(ctx context.Context) {
	defer s.wg.Done()
	appliers := map[string]*kube.Applier{}
	defer func() { // a replica that steps down leads again later with appliers of its own
		for _, a := range appliers {
			a.Stop()
		}
	}()
	b := &backoff{First: s.cfg.Tuning.ReconcileBackoff, Max: s.cfg.Tuning.ReconcileBackoffMax}
	timer := time.NewTimer(s.cfg.Tuning.Reconcile)
	defer timer.Stop()
	for {
		s.mu.Lock()
		hard, soft := s.hardArrived, s.arrived
		s.mu.Unlock()
		start := time.Now()
		res, err := s.reconcile(ctx, appliers, s)
		if ctx.Err() != nil {
			return // stopping or stepping down: nothing to retry
		}
		s.log.Debug("reconcile pass", "took", time.Since(start), "requeue", res.RequeueAfter, "err", err)
		wait := requeueAfter(res, err, b, s.cfg.Tuning.Reconcile)
		if err != nil {
			s.metrics.reconcileErrors.Inc()
			s.log.Warn("reconcile pass incomplete", "retry", wait, "err", err)
		}
		timer.Reset(wait)
		softAfter := max(s.cfg.Tuning.ReconcileBurst, time.Duration(s.cfg.Tuning.SoftPassPace)*time.Since(start))
		if !s.between(ctx, appliers, timer, hard, soft, softAfter) {
			return
		}
	}
}

// between waits for the reconcile loop's next pass, reporting changed status meanwhile;
// false when ctx ended. hard is closed once changes are stored, soft once soft records
// are (and changes: every store closes it); a pass for soft records alone waits
// softAfter.
func (s *Site) between(ctx context.Context, appliers map[string]*kube.Applier, timer *time.Timer, hard, soft <-chan struct{}, softAfter time.Duration) bool {
	var paced, burst, status <-chan time.Time // nil: not waiting for it
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-s.schedWake:
			return true
		case <-hard:
			hard, soft = nil, nil
			if burst == nil {
				burst = time.After(s.cfg.Tuning.ReconcileBurst) // let a burst of changes land
			}
		case <-s.driftWake:
			if burst == nil {
				burst = time.After(s.cfg.Tuning.ReconcileBurst) // let a burst of deletions land
			}
		case <-soft:
			soft = nil
			if burst == nil {
				paced = time.After(softAfter)
			}
		case <-burst:
			return true
		case <-paced:
			return true
		case <-s.statusWake:
			if status == nil {
				status = time.After(s.cfg.Tuning.StatusBurst) // let a rollout's changes land
			}
		case <-status:
			status = nil
			if err := s.refreshStatus(appliers, s); err != nil {
				s.log.Warn("status not reported", "err", err) // the next pass writes it
			}
		}
	}
}

// wakeDrift asks for a reconcile pass soon, after a member cluster drifted from what
// Atoll applied; it never blocks (an informer calls it).
func (s *Site) wakeDrift() {
	select {
	case s.driftWake <- struct{}{}:
	default:
	}
}

// wakeReconcile asks for a reconcile pass soon.
func (s *Site) wakeReconcile() {
	select {
	case s.schedWake <- struct{}{}:
	default:
	}
}

// clustersReady returns this site's joined clusters its own state calls healthy, sorted.
func (s *Site) clustersReady() ([]string, error) {
	entries, err := s.kubes.List()
	if err != nil {
		return nil, fmt.Errorf("member clusters: %w", err)
	}
	var out []string
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if v, ok := s.rep.Get(crdt.KindCluster, crdt.ClusterKey(s.cfg.Name, e.Name), "health"); ok && string(v.Bytes) == "healthy" {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

// placed is one workload this site runs, with the replicas for each of its clusters.
type placed struct {
	w        kube.Workload
	clusters map[string]int // cluster -> replicas (Duplicated: per cluster; -1 kinds: 1)
	// completions are, for a divided Job with completions, each cluster's part of them
	// (jobCompletions); nil: the template's in every cluster.
	completions map[string]int
	// sched is the workload as the scheduler saw it: its policy's application failover
	// and the status of every cluster (failoverStatus).
	sched *scheduler.Workload
}

// passPlan is what a pass needs of the plan besides the placed workloads.
type passPlan struct {
	own map[string]*scheduler.Cluster // this site's clusters, by name
	// evicted are the Status keys of this site's clusters whose workload's eviction is in
	// force (application failover): kept, empty, while it runs nowhere there, so that the
	// eviction sticks (dropStatus).
	evicted map[string]bool
}

// plan divides every workload (planPass) and returns this site's part of each. It
// records every site's share for explanations, and the refusals of the pass: what lies
// outside the site's jurisdiction or above the charter's limits. next is when the view
// of liveness, or a placement by the clock alone (scheduler.Next), may change by itself.
// It stops with ctx's error when ctx is done: a partial plan must not be applied, or what
// it did not reach would be pruned.
func (s *Site) plan(ctx context.Context, now time.Time) (out []placed, pp passPlan, next time.Duration, err error) {
	alive, next := s.aliveView(now)
	s.mu.Lock()
	st := s.schedState(alive)
	st.Now = now
	ws := s.workloadsLocked()
	s.mu.Unlock()
	pp = passPlan{own: map[string]*scheduler.Cluster{}, evicted: map[string]bool{}}
	for i := range st.Clusters {
		if c := &st.Clusters[i]; c.Site == s.cfg.Name {
			pp.own[c.Name] = c
		}
	}
	if !slices.ContainsFunc(st.Sites, func(x scheduler.Site) bool { return x.Name == s.cfg.Name }) {
		return nil, pp, next, nil
	}
	pass, err := planPass(ctx, st, ws, s.cfg.Name, false, &s.plans)
	if err != nil {
		return nil, pp, next, err
	}
	for i := range ws {
		s.evictedHere(&ws[i].sched, now, pp.evicted)
		if t := scheduler.Next(&ws[i].sched, st); !t.IsZero() {
			next = minPositive(next, t.Sub(now)) // a toleration runs out, an eviction falls due or ends
		}
	}
	for i := range pass {
		pl := &pass[i]
		w := pl.w
		for _, r := range pl.refusals {
			s.refuse(r.why, w.sched.Key, r.reason)
		}
		if w.unplaced != "" {
			continue
		}
		if w.err != nil {
			if w.refusal == "" {
				s.log.Warn("workload not scheduled", "workload", w.sched.Key, "err", w.err)
			}
			continue
		}
		s.decisions.record(now, pl.div, func(prev decision, sh scheduler.Share) {
			s.events.add("placement", w.sched.Key, fmt.Sprintf("%s on %s: %d → %d replicas%s", w.sched.Key, sh.Name, prev.replicas, sh.Replicas, because(sh.Reason)))
		})
		local, ok := pl.local[s.cfg.Name]
		if !ok || w.render.Template == nil {
			continue // not here, refused, or the body is still on its way
		}
		placed := placed{w: w.render, clusters: map[string]int{}, sched: &pl.w.sched}
		for _, c := range local {
			s.decisions.recordCluster(now, w.sched.Key, s.cfg.Name, c)
			if c.Replicas > 0 {
				placed.clusters[c.Name] = c.Replicas
			}
		}
		if w.kind == "Job" && w.job.completions > 0 && !pl.div.Duplicated && w.render.Divides(w.kind) {
			placed.completions = jobCompletions(w.job.completions, pl.div, s.cfg.Name, local)
			for c := range placed.clusters {
				if placed.completions[c] == 0 {
					delete(placed.clusters, c) // more clusters than completions: none left for it
				}
			}
		}
		out = append(out, placed)
	}
	out, refusals := withDeps(ws, out)
	out = withAutoscalers(ws, out)
	for _, r := range refusals {
		s.refuse(r.r.why, r.key, r.r.reason)
	}
	return out, pp, next, nil
}

// jobCompletions divides a divided Job's completions as its parallelism is divided:
// among the sites' shares of the division (every site computes the same parts), then
// this site's part among its clusters' shares (scheduler.Completions), so that the
// clusters' completions sum to the template's. A cluster absent, or with 0, gets none.
func jobCompletions(total int, div scheduler.Division, self string, local []scheduler.Share) map[string]int {
	shares := make([]int, len(div.Sites))
	mine := -1
	for i, sh := range div.Sites {
		shares[i] = sh.Replicas
		if sh.Name == self {
			mine = i
		}
	}
	if mine < 0 {
		return map[string]int{}
	}
	part := scheduler.Completions(total, shares)[mine]
	shares = shares[:0]
	for _, c := range local {
		shares = append(shares, c.Replicas)
	}
	out := map[string]int{}
	for i, n := range scheduler.Completions(part, shares) {
		if n > 0 {
			out[local[i].Name] = n
		}
	}
	return out
}

// statusWriter is what a reconcile pass writes besides the member clusters: this site's
// Status records, in one change per pass, and the audit records the pass buffered
// (workloads run here, refusals). The Site writes them to its replica and data file; a
// test wraps it to count what a pass wrote.
type statusWriter interface {
	writeStatus(ops []crdt.Op) error
	flushAudit() error
}

var _ statusWriter = (*Site)(nil)

// writeStatus records a pass's status writes (soft records, or hard removes).
func (s *Site) writeStatus(ops []crdt.Op) error {
	_, _, err := s.record(ops)
	return err
}

// reconcile runs one pass (see reconcileLoop) and writes its status through out. It
// returns an error when the pass did not complete: a member client could not be made, a
// namespace, an apply or a prune failed, or writing status or audit records failed. What
// did complete stays done, and a cluster with a failure is not pruned. A pass stopped by
// ctx returns ctx's error, and applies and prunes nothing more.
func (s *Site) reconcile(ctx context.Context, appliers map[string]*kube.Applier, out statusWriter) (passResult, error) {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	defer observeSince(s.metrics.reconcile, time.Now())
	if err := ctx.Err(); err != nil {
		return passResult{}, err
	}
	if s.removed() {
		return passResult{}, s.retire(ctx, appliers)
	}
	clusters, err := s.clustersReady()
	if err != nil {
		return passResult{}, err
	}
	ws, pp, next, err := s.plan(ctx, time.Now())
	res := passResult{RequeueAfter: next}
	if err != nil {
		return res, err // shutting down: apply and prune nothing
	}
	var errs []error
	var status []crdt.Op          // written in one change at the end of the pass
	unpruned := map[string]bool{} // ready clusters this pass did not prune cleanly
	for name, a := range appliers {
		if !slices.Contains(clusters, name) {
			a.Stop()
			delete(appliers, name)
		}
	}
	for _, cluster := range clusters {
		a := appliers[cluster]
		if a == nil {
			cfg, err := s.kubes.Config(cluster)
			if err == nil {
				a, err = kube.NewApplier(cfg, s.cfg.Resync.D(), s.log.With("cluster", cluster))
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("member cluster client %s: %w", cluster, err))
				unpruned[cluster] = true
				continue
			}
			a.OnStatus(s.wakeStatus)
			a.OnDrift(s.wakeDrift)
			appliers[cluster] = a
		}
		known := map[string]reported{} // this pass's, for refreshStatus
		keep := map[string]bool{}
		failed := false
		namespaces := map[string]bool{}
		for _, group := range applyGroups(ws) {
			var jobs []*applying
			for _, pl := range group {
				w := pl.w
				replicas, ok := pl.clusters[cluster]
				if !ok {
					continue // no share here: pruned below if it was there before
				}
				w.Completions = pl.completions[cluster]
				u, err := s.parsed.Render(w, pp.own[cluster], replicas)
				if err != nil {
					// The workload's own fault: a retry renders it the same way.
					s.log.Warn("workload not rendered", "workload", w.Namespace+"/"+w.Name, "err", err)
					continue
				}
				if err := s.admission.Admit(w, u); err != nil {
					status = append(status, s.refusedIn(w, cluster, err)...)
					continue // not kept: what an earlier release applied for it is pruned
				}
				if !w.ClusterScoped() && !namespaces[w.Namespace] {
					if err := a.EnsureNamespace(ctx, w.Namespace); err != nil {
						errs = append(errs, fmt.Errorf("namespace %s in %s: %w", w.Namespace, cluster, err))
						failed = true
						continue
					}
					namespaces[w.Namespace] = true
				}
				jobs = append(jobs, &applying{w: w, sched: pl.sched, u: u, replicas: replicas})
			}
			s.applyAll(ctx, a, cluster, jobs)
			for _, j := range jobs {
				w, replicas := j.w, j.replicas
				if j.key != "" {
					keep[j.key] = true
				}
				err := j.err
				if _, ok := kube.IsRefusal(err); ok {
					status = append(status, s.refusedIn(w, cluster, err)...)
					continue
				}
				if wt, ok := kube.IsWaiting(err); ok {
					// Not a failure of the pass: the reason goes into the status and a pass soon
					// tries again (a CRD applied just before becomes established).
					status = append(status, s.statusDiff(w, cluster, map[string]string{"reason": StatusWaiting, "message": wt.Reason})...)
					res.RequeueAfter = minPositive(res.RequeueAfter, waitingRetry)
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("apply %s/%s in %s: %w", w.Namespace, w.Name, cluster, err))
					failed = true
					continue
				}
				s.ran(w, cluster, replicas)
				status = append(status, s.statusOps(w, cluster, replicas, j.got, j.sched)...)
				if j.key != "" {
					known[j.key] = reported{w: w, replicas: replicas, sched: j.sched}
				}
			}
		}
		if s.reported == nil {
			s.reported = map[string]map[string]reported{}
		}
		s.reported[cluster] = known
		if failed {
			unpruned[cluster] = true
			continue // prune only after a clean pass
		}
		deleted, err := a.Prune(ctx, keep)
		if err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", cluster, err))
			unpruned[cluster] = true
		}
		for _, key := range deleted {
			s.log.Info("pruned", "cluster", cluster, "object", key)
		}
	}
	for cluster := range s.reported {
		if !slices.Contains(clusters, cluster) {
			delete(s.reported, cluster)
		}
	}
	status = append(status, s.dropStatus(ws, clusters, unpruned, pp.evicted)...)
	if len(status) > 0 {
		if err := out.writeStatus(status); err != nil {
			errs = append(errs, fmt.Errorf("status: %w", err))
		}
	}
	if err := out.flushAudit(); err != nil {
		errs = append(errs, fmt.Errorf("audit records: %w", err))
	}
	return res, errors.Join(errs...)
}

// waitingRetry is how soon a pass runs again after an object had to wait (kube.Waiting).
const waitingRetry = 2 * time.Second

// minPositive returns the smaller of two durations, a zero one meaning none.
func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 || b < a {
		return b
	}
	return a
}

// statusOps returns the writes that bring a workload's Status object in one cluster up to
// date from u, the object as the cluster holds it (kube.ReadStatus); none when nothing
// changed. desired is what the site placed there: the share of a workload whose replicas
// it divides, which the scheduler reads back; a DaemonSet reports its pods by node and a
// Job its parallelism instead, and other kinds 1. A Job's counts (active, succeeded,
// failed) are written only under a charter of format level crdt.FormatJobs: sites of an
// earlier release would refuse the record.
//
// From format level crdt.FormatFailover it also writes when the workload became
// unhealthy there and, under application failover, when this site evicted it
// (failoverStatus); sw is the workload as the scheduler saw it (nil: no failover).
func (s *Site) statusOps(w kube.Workload, cluster string, desired int, u *unstructured.Unstructured, sw *scheduler.Workload) []crdt.Op {
	st := kube.ReadStatus(u)
	// generation is the change of the workload this cluster runs, once its controllers
	// have acted on it (observedGeneration caught up); "" while they have not: what a
	// federation's aggregated status reads to tell a finished rollout (fedsync).
	applied := ""
	if st.Current {
		applied = w.Change
	}
	switch {
	case w.Divides(u.GetKind()):
	case st.Desired >= 0:
		desired = st.Desired
	default:
		desired = 1
	}
	itoa := strconv.Itoa
	cur := map[string]string{
		"desired": itoa(desired), "ready": itoa(st.Ready), "available": itoa(st.Available), "updated": itoa(st.Updated),
		"observed": strconv.FormatInt(st.Observed, 10), "conditions": st.Conditions, "generation": applied,
	}
	if j := st.Job; j != nil && w.Format >= crdt.FormatJobs {
		cur["active"], cur["succeeded"], cur["failed"] = itoa(j.Active), itoa(j.Succeeded), itoa(j.Failed)
	}
	s.interpretedStatus(w, u, desired, cur)
	if w.Format >= crdt.FormatFailover {
		s.failoverStatus(w, cluster, sw, cur, time.Now())
	}
	if w.Format >= crdt.FormatStatusReflection {
		s.reflectedStatus(w, u, cur)
	}
	return s.statusDiff(w, cluster, cur)
}

// statusFields are the fields of a Status object the reconciler writes; one it leaves
// out of a write is "".
var statusFields = []string{"desired", "ready", "available", "updated", "observed", "conditions", "generation", "reason", "message"}

// jobFields are a Job's counts in its Status objects, from format level crdt.FormatJobs:
// written only when a write holds them (statusOps decides), never as "".
var jobFields = []string{"active", "succeeded", "failed"}

// statusDiff returns the writes that make the Status object of w in cluster hold cur.
func (s *Site) statusDiff(w kube.Workload, cluster string, cur map[string]string) []crdt.Op {
	key := crdt.StatusKey(w.Namespace, w.Name, s.cfg.Name, cluster)
	var ops []crdt.Op
	s.mu.Lock()
	obj, _ := s.rep.Object(crdt.KindStatus, key)
	s.mu.Unlock()
	set := func(f string) {
		ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: key, Field: f, Value: []byte(cur[f])})
	}
	for _, f := range statusFields {
		if v, ok := obj[f]; string(v.Bytes) != cur[f] || !ok && f != "reason" && f != "message" {
			set(f)
		}
	}
	for _, f := range jobFields {
		if want, ok := cur[f]; ok && string(obj[f].Bytes) != want {
			set(f)
		}
	}
	for _, f := range failoverFields {
		want, ok := cur[f]
		switch have, had := obj[f]; {
		case ok && (!had || string(have.Bytes) != want):
			set(f)
		case !ok && had && w.Format >= crdt.FormatFailover:
			ops = append(ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindStatus, Key: key, Field: f})
		}
	}
	return ops
}

// refusedIn records that this site refuses to run w in cluster (err holds a
// kube.Refusal): audit record, event, metric, and the reason in the workload's Status
// there, so describe shows it at every site. It returns the status writes.
func (s *Site) refusedIn(w kube.Workload, cluster string, err error) []crdt.Op {
	r, _ := kube.IsRefusal(err)
	s.refuse("admission", w.Namespace+"/"+w.Name, r.Reason)
	return s.statusDiff(w, cluster, map[string]string{"desired": "0", "ready": "0", "available": "0", "updated": "0",
		"observed": "0", "reason": StatusRefused, "message": r.Reason})
}

// StatusRefused is the reason a Status object carries when its site refuses to run the
// workload in that cluster; the message says why.
const StatusRefused = "Refused"

// StatusWaiting is the reason of a Status object whose object the cluster cannot take
// yet (kube.Waiting: a custom resource before its CRD is established); message says why.
const StatusWaiting = "Waiting"

// dropStatus returns the removes of this site's Status objects for workloads or clusters
// it no longer runs: on its joined clusters, and on clusters that are gone. On a ready
// cluster whose pass did not prune (unpruned: an apply or the prune failed), what the
// Status objects report may still run there, so they stay until a pass prunes it: a
// workload's Status objects are gone only once its objects are (delete --wait).
//
// A Status object whose workload's eviction from that cluster is in force (evicted) is
// kept with nothing running instead, so that every site goes on reading the eviction.
func (s *Site) dropStatus(ws []placed, clusters []string, unpruned, evicted map[string]bool) []crdt.Op {
	want := map[string]bool{}
	for _, pl := range ws {
		for _, c := range clusters {
			if _, ok := pl.clusters[c]; ok {
				want[crdt.StatusKey(pl.w.Namespace, pl.w.Name, s.cfg.Name, c)] = true
			}
		}
	}
	joined := map[string]bool{}
	if entries, err := s.kubes.List(); err == nil {
		for _, e := range entries {
			joined[e.Name] = true
		}
	}
	s.mu.Lock()
	var ops []crdt.Op
	s.rep.EachStatus(func(key string, obj crdt.StatusFields) {
		_, site, cluster, ok := splitStatus(key)
		if !ok || site != s.cfg.Name || want[key] || unpruned[cluster] {
			return
		}
		if evicted[key] {
			ops = append(ops, emptied(key, obj)...)
			return
		}
		// A cluster this site never joined but whose object exists was published through
		// the local API (a simulated cluster): its status is the caller's to keep.
		if _, exists := s.rep.Object(crdt.KindCluster, crdt.ClusterKey(s.cfg.Name, cluster)); joined[cluster] || !exists {
			ops = append(ops, crdt.Op{Type: crdt.OpRemove, Kind: crdt.KindStatus, Key: key})
		}
	})
	s.mu.Unlock()
	slices.SortFunc(ops, func(a, b crdt.Op) int { return strings.Compare(a.Key, b.Key) })
	return ops
}
