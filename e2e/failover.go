package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// FailoverReport is the outcome of RunFailover. Times are from the kill (detect, decide,
// ready) or from the restart (failback).
type FailoverReport struct {
	Sites    int `json:"sites"`
	Clusters int `json:"clusters"`
	// Workloads of Replicas each: one bounded to EU, the others unbounded.
	Workloads int `json:"workloads"`
	Replicas  int `json:"replicas"` // desired replicas over all workloads
	Moved     int `json:"moved"`    // replicas the killed site ran, to be taken over

	DetectMS          int64 `json:"detect_ms"` // until every survivor sees the site dead
	DecideMS          int64 `json:"decide_ms"` // until the survivors' Deployments ask for every replica
	ReadyMS           int64 `json:"ready_ms"`  // until the survivors' clusters have every replica ready
	DecideAfterDetect int64 `json:"decide_after_detect_ms"`
	FailbackMS        int64 `json:"failback_ms"` // from the restart until the placement is back to the policy

	MinReadyDuringFailback int `json:"min_ready_during_failback"` // of Replicas, over all clusters
	ResidencyViolations    int `json:"residency_violations"`      // bounded replicas seen outside the bound, plus audit breaches
	DuplicatedAfterHeal    int `json:"duplicated_after_heal"`     // replicas above the policy once failback settled
	DeletedAfterHeal       int `json:"deleted_after_heal"`        // ready replicas below the policy during failback
}

// RunFailover runs 4 sites (0 and 3 in EU, 1 in US, 2 in APAC), each with one real
// cluster, and workloads of the given replicas: the first bounded to EU, the others not.
// It kills site 3, measures detection, decision and time to ready at the survivors,
// deletes the killed site's Deployments (its region lost them), restarts it and checks
// failback: ready replicas never fall below the policy, and once settled nothing runs
// beyond it. Bounded replicas are watched outside EU throughout, and every site's
// audit records are checked.
func RunFailover(ctx context.Context, o Options, workloads, replicas int) (FailoverReport, error) {
	const victim = 3
	rep := FailoverReport{Sites: 4, Clusters: 4, Workloads: workloads, Replicas: workloads * replicas}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(o.Dir, "kube"), Clusters: 4, NodesPerCluster: 2, NodeCPU: "32", NodeMemory: "64Gi"})
	if err != nil {
		return rep, err
	}
	defer env.Stop()
	cs, err := clientsets(env, 100, 200)
	if err != nil {
		return rep, err
	}
	o.Sites = 4
	tune := o.Tune
	o.Tune = func(i int, c *site.Config) {
		c.Membership = site.MembershipConfig{ProbeInterval: site.Duration(500 * time.Millisecond), ProbeTimeout: site.Duration(250 * time.Millisecond), SuspicionMult: 2, SuspicionMaxTimeoutMult: 2}
		if tune != nil {
			tune(i, c)
		}
	}
	f, err := startSettled(ctx, o)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	if err := joinEach(ctx, f, env); err != nil {
		return rep, err
	}
	op, err := newOperatorFor(f)
	if err != nil {
		return rep, err
	}
	names := make([]string, workloads)
	for w := range workloads {
		names[w] = fmt.Sprintf("w%d", w)
		tmpl := []byte(strings.ReplaceAll(benchTemplate, "%s", names[w]))
		key := crdt.WorkloadKey("fo", names[w])
		set := func(f, v string) crdt.Op {
			return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: f, Value: []byte(v)}
		}
		ops := []crdt.Op{set("apiVersion", "apps/v1"), set("kind", "Deployment"), set("replicas", fmt.Sprint(replicas))}
		var bound []string
		var bodies [][]byte
		if w == 0 {
			bound, bodies = []string{"EU"}, [][]byte{tmpl}
			ops = append(ops, set("bound", "EU"), crdt.SealOp(crdt.KindWorkload, key, "template", tmpl))
		} else {
			ops = append(ops, set("template", string(tmpl)))
		}
		if err := op.writeBound(ctx, 0, bound, bodies, ops...); err != nil {
			return rep, err
		}
	}
	obs := &observer{cs: cs, names: names}
	outside := func(c int) bool { return c == 1 || c == 2 } // US, APAC
	check := func(v view) {
		for c := range 4 {
			if outside(c) && (v.spec[c][names[0]] > 0 || v.exists[c][names[0]]) {
				rep.ResidencyViolations++
			}
		}
	}
	want := func(v view, clusters []int, ready bool) bool {
		for _, n := range names {
			if v.sum(n, clusters, ready) != replicas {
				return false
			}
		}
		return true
	}
	all := []int{0, 1, 2, 3}
	v, err := obs.until(ctx, "the placement applied and ready", 2*time.Minute, func(v view) bool {
		check(v)
		return want(v, all, false) && want(v, all, true)
	})
	if err != nil {
		return rep, err
	}
	for _, n := range names {
		rep.Moved += v.spec[victim][n]
	}
	if rep.Moved == 0 {
		return rep, fmt.Errorf("site %s runs nothing: no failover to measure", f.Names[victim])
	}

	// Failover.
	survivors := []int{0, 1, 2}
	t0 := time.Now()
	detected, err := killWatched(ctx, f, victim, survivors)
	if err != nil {
		return rep, err
	}
	if _, err := obs.until(ctx, "the survivors ask for every replica", time.Minute, func(v view) bool {
		check(v)
		return want(v, survivors, false)
	}); err != nil {
		return rep, err
	}
	rep.DecideMS = time.Since(t0).Milliseconds()
	if _, err := obs.until(ctx, "every replica ready at the survivors", time.Minute, func(v view) bool {
		check(v)
		return want(v, survivors, true)
	}); err != nil {
		return rep, err
	}
	rep.ReadyMS = time.Since(t0).Milliseconds()
	select {
	case d := <-detected:
		rep.DetectMS = d.Milliseconds()
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	rep.DecideAfterDetect = rep.DecideMS - rep.DetectMS

	// The killed site's region lost its Deployments; then the site comes back.
	if err := cs[victim].AppsV1().Deployments("fo").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return rep, err
	}
	if _, err := obs.until(ctx, "the killed site's Deployments gone", time.Minute, func(v view) bool { return len(v.exists[victim]) == 0 }); err != nil {
		return rep, err
	}
	t1 := time.Now()
	if err := f.StartSite(ctx, victim); err != nil {
		return rep, err
	}
	rep.MinReadyDuringFailback = rep.Replicas
	settled := func(v view) bool {
		check(v)
		ready, short := 0, 0
		for _, n := range names {
			r := v.sum(n, all, true)
			ready += r
			short += max(replicas-r, 0)
		}
		rep.DeletedAfterHeal = max(rep.DeletedAfterHeal, short)
		rep.MinReadyDuringFailback = min(rep.MinReadyDuringFailback, ready)
		return want(v, all, false) && want(v, all, true) && v.sum(names[0], []int{victim}, true) > 0
	}
	v, err = obs.until(ctx, "failback settled", 2*time.Minute, settled)
	if err != nil {
		return rep, err
	}
	rep.FailbackMS = time.Since(t1).Milliseconds()
	// Hold it a little longer: the placement must stay put.
	deadline := time.Now().Add(3 * time.Second)
	v, err = obs.until(ctx, "", time.Minute, func(v view) bool { settled(v); return time.Now().After(deadline) })
	if err != nil {
		return rep, err
	}
	for _, n := range names {
		rep.DuplicatedAfterHeal += max(v.sum(n, all, false)-replicas, 0)
	}
	for i := range 4 {
		recs, err := f.Client(i).Audit(ctx)
		if err != nil {
			return rep, err
		}
		for _, r := range recs {
			if r.Breach() {
				rep.ResidencyViolations++
			}
		}
	}
	return rep, nil
}

// observer reads the workloads' Deployments in every cluster.
type observer struct {
	cs    []*kubernetes.Clientset
	names []string
	ns    string        // default "fo"
	every time.Duration // between readings; default 20 ms
}

// view is one reading: per cluster, per workload, spec and ready replicas.
type view struct {
	spec, ready []map[string]int
	exists      []map[string]bool
}

func (v view) sum(name string, clusters []int, ready bool) int {
	n := 0
	for _, c := range clusters {
		if ready {
			n += v.ready[c][name]
		} else {
			n += v.spec[c][name]
		}
	}
	return n
}

func (o *observer) read(ctx context.Context) (view, error) {
	var v view
	for _, k := range o.cs {
		ns := o.ns
		if ns == "" {
			ns = "fo"
		}
		list, err := k.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return v, err
		}
		spec, ready, exists := map[string]int{}, map[string]int{}, map[string]bool{}
		for _, d := range list.Items {
			spec[d.Name], ready[d.Name], exists[d.Name] = replicasOf(&d), int(d.Status.ReadyReplicas), true
		}
		v.spec, v.ready, v.exists = append(v.spec, spec), append(v.ready, ready), append(v.exists, exists)
	}
	return v, nil
}

func replicasOf(d *appsv1.Deployment) int {
	if d.Spec.Replicas == nil {
		return 1
	}
	return int(*d.Spec.Replicas)
}

// until reads every o.every until ok holds, for at most d.
func (o *observer) until(ctx context.Context, what string, d time.Duration, ok func(view) bool) (view, error) {
	deadline := time.Now().Add(d)
	var last view
	for {
		v, err := o.read(ctx)
		if err == nil {
			last = v
			if ok(v) {
				return v, nil
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%s: not within %v (last: spec %v, ready %v)", what, d, last.spec, last.ready)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(cmp.Or(o.every, 20*time.Millisecond)):
		}
	}
}

// joinEach joins cluster i of env to site i of f as k0, and waits until site 0 sees every
// one healthy.
func joinEach(ctx context.Context, f *Fed, env *testenv.Env) error {
	for i, c := range env.Clusters() {
		b, err := os.ReadFile(c.AtollKubeconfig)
		if err != nil {
			return err
		}
		if err := f.Client(i).JoinCluster(ctx, site.JoinRequest{Name: "k0", Kubeconfig: string(b)}); err != nil {
			return err
		}
	}
	return f.waitFor(ctx, "clusters healthy", func(map[int]site.State) bool {
		for i := range env.Clusters() {
			obj, err := f.Client(0).Object(ctx, "cluster", f.Names[i]+"/k0")
			if err != nil || obj["health"].Value != "healthy" {
				return false
			}
		}
		return true
	})
}

// killWatched kills site victim (kill -9) and returns a channel that receives, once, how
// long after the kill every survivor stopped listing it live.
func killWatched(ctx context.Context, f *Fed, victim int, survivors []int) (<-chan time.Duration, error) {
	t0 := time.Now()
	if err := f.Kill(victim); err != nil {
		return nil, err
	}
	detected := make(chan time.Duration, 1)
	go func() {
		_ = f.waitFor(ctx, "survivors see the kill", func(st map[int]site.State) bool {
			for _, i := range survivors {
				s, ok := st[i]
				if !ok || slices.Contains(s.Live, f.Names[victim]) {
					return false
				}
			}
			return true
		})
		detected <- time.Since(t0)
	}()
	return detected, nil
}
