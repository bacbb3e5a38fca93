package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/deploy/testenv"
	"atoll/site/kube"
)

// ScaleFailoverReport is the outcome of RunScaleFailover. Times are from the kill
// (detect, decide, ready), from the first write (setup) or from the restart (failback).
type ScaleFailoverReport struct {
	Sites           int `json:"sites"`
	Clusters        int `json:"clusters"`
	NodesPerCluster int `json:"nodes_per_cluster"`
	Workloads       int `json:"workloads"`
	Pods            int `json:"pods"`  // desired replicas over all workloads
	Moved           int `json:"moved"` // replicas the killed site ran, to be taken over

	SetupMS   int64 `json:"setup_ms"`  // from the first write until every pod is ready
	DetectMS  int64 `json:"detect_ms"` // until every survivor sees the site dead
	DecideMS  int64 `json:"decide_ms"` // until the survivors' Deployments ask for every replica
	ReadyMS   int64 `json:"ready_ms"`  // until the survivors' clusters have every replica ready
	MovePodsS int   `json:"moved_pods_per_s"`

	// DirectMS is a plain client-go loop creating, in the same run and on the same
	// survivors' apiservers, Deployments that ask for the same replicas the survivors
	// took over, until every one is ready. Ratio is DirectMS over ReadyMS - DetectMS:
	// the share of the apiservers' own pace Atoll's takeover reaches once it knows.
	DirectMS      int64   `json:"direct_ms"`
	DirectPodsS   int     `json:"direct_pods_per_s"`
	Ratio         float64 `json:"ratio_after_detect"`
	RatioFromKill float64 `json:"ratio_from_kill"` // DirectMS over ReadyMS
	// CPUTakeover and CPUDirect are the survivors' sites' CPU and the machine's over the
	// takeover (from the kill until ready) and over the yardstick: on one shared machine
	// what the sites take, the control planes lack.
	CPUTakeover CPUPhase `json:"cpu_takeover"`
	CPUDirect   CPUPhase `json:"cpu_direct"`

	FailbackMS             int64 `json:"failback_ms"`               // from the restart until the placement is back and ready
	MinReadyDuringFailback int   `json:"min_ready_during_failback"` // of Pods, over all clusters
	DeletedAfterHeal       int   `json:"deleted_after_heal"`        // ready replicas below the policy during failback
	DuplicatedAfterHeal    int   `json:"duplicated_after_heal"`     // replicas above the policy once failback settled
}

// RunScaleFailover runs 4 sites, each with one real cluster of nodes fake Nodes (kwok,
// 110 pods each), and workloads of replicas each, divided evenly over the sites: the
// failover of RunFailover at the scale of tens of thousands of pods. Once every pod is
// ready it kills site 3 and measures takeover until every replica is ready at the
// survivors; then a plain client-go loop creates the same replicas at the survivors, in
// another namespace, as the yardstick; then the killed site's region loses its
// Deployments, the site restarts, and failback is watched for a drop in ready replicas
// and, once settled, for anything beyond the policy.
func RunScaleFailover(ctx context.Context, o Options, nodes, workloads, replicas int) (ScaleFailoverReport, error) {
	const victim, ns = 3, "fo"
	rep := ScaleFailoverReport{Sites: 4, Clusters: 4, NodesPerCluster: nodes, Workloads: workloads, Pods: workloads * replicas}
	if need := (rep.Pods*4/3 + rep.Pods/4) / 3; nodes*110 < need {
		return rep, fmt.Errorf("%d Nodes of 110 pods per cluster hold %d pods; the survivors need %d each (takeover and yardstick)", nodes, nodes*110, need)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(o.Dir, "kube"), Clusters: 4, NodesPerCluster: nodes, NodeCPU: "64", NodeMemory: "256Gi"})
	if err != nil {
		return rep, err
	}
	defer env.Stop()
	logf("4 clusters of %d Nodes up", nodes)
	cs, err := clientsets(env, kube.ApplyQPS, kube.ApplyBurst) // the pace the sites apply at
	if err != nil {
		return rep, err
	}
	o.Sites = 4
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
	t0 := time.Now()
	for w := range workloads {
		names[w] = fmt.Sprintf("w%d", w)
		if err := op.write(ctx, w%4, workloadOps(ns, names[w], replicas)...); err != nil {
			return rep, err
		}
	}
	obs := &observer{cs: cs, names: names, ns: ns, every: 500 * time.Millisecond}
	want := func(v view, clusters []int, ready bool) bool {
		for _, n := range names {
			if v.sum(n, clusters, ready) != replicas {
				return false
			}
		}
		return true
	}
	// atLeast is the takeover's test: while it runs, a survivor may hold a replica above
	// its final share until the others' are ready (make-before-break), so the survivors
	// may ask for more than the policy for a while.
	atLeast := func(v view, clusters []int, ready bool) bool {
		for _, n := range names {
			if v.sum(n, clusters, ready) < replicas {
				return false
			}
		}
		return true
	}
	total := func(v view, clusters []int, ready bool) int {
		n := 0
		for _, w := range names {
			n += v.sum(w, clusters, ready)
		}
		return n
	}
	all, survivors := []int{0, 1, 2, 3}, []int{0, 1, 2}
	progress := func(what string, clusters []int) func(v view) {
		last := time.Now()
		return func(v view) {
			if time.Since(last) > 15*time.Second {
				last = time.Now()
				logf("%s: %d pods ready in clusters %v, %d asked for", what, total(v, clusters, true), clusters, total(v, clusters, false))
			}
		}
	}
	setup := progress("setup", all)
	v, err := obs.until(ctx, "every pod ready", 30*time.Minute, func(v view) bool {
		setup(v)
		return want(v, all, false) && want(v, all, true)
	})
	if err != nil {
		return rep, err
	}
	rep.SetupMS = time.Since(t0).Milliseconds()
	before := v
	for _, n := range names {
		rep.Moved += v.spec[victim][n]
	}
	logf("%d pods ready in %v; killing %s, which runs %d", rep.Pods, time.Since(t0).Round(time.Second), f.Names[victim], rep.Moved)

	// Failover.
	var pids []int
	for _, c := range survivors {
		pids = append(pids, f.Pid(c))
	}
	cpu0, err := sampleCPU(pids)
	if err == nil {
		err = profileSites(o, pids) // --cpu-profile: the takeover's profile of each survivor
	}
	if err != nil {
		return rep, err
	}
	t1 := time.Now()
	detected, err := killWatched(ctx, f, victim, survivors)
	if err != nil {
		return rep, err
	}
	if _, err := obs.until(ctx, "the survivors ask for every replica", 5*time.Minute, func(v view) bool { return atLeast(v, survivors, false) }); err != nil {
		return rep, err
	}
	rep.DecideMS = time.Since(t1).Milliseconds()
	moving := progress("takeover", survivors)
	after, err := obs.until(ctx, "every replica ready at the survivors", 30*time.Minute, func(v view) bool {
		moving(v)
		return atLeast(v, survivors, true)
	})
	if err != nil {
		return rep, err
	}
	rep.ReadyMS = time.Since(t1).Milliseconds()
	cpu1, err := sampleCPU(pids)
	if err == nil {
		err = profileSites(o, pids)
	}
	if err != nil {
		return rep, err
	}
	rep.CPUTakeover = cpu1.since(cpu0)
	select {
	case d := <-detected:
		rep.DetectMS = d.Milliseconds()
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	rep.MovePodsS = int(float64(rep.Moved) / (float64(rep.ReadyMS-rep.DetectMS) / 1000))
	logf("takeover: detect %d ms, decide %d ms, ready %d ms", rep.DetectMS, rep.DecideMS, rep.ReadyMS)

	// The yardstick: what each survivor gained, created directly.
	gained := make([]map[string]int, 4)
	for _, c := range survivors {
		gained[c] = map[string]int{}
		for _, n := range names {
			if d := after.spec[c][n] - before.spec[c][n]; d > 0 {
				gained[c][n] = d
			}
		}
	}
	cpu2, err := sampleCPU(pids)
	if err != nil {
		return rep, err
	}
	if rep.DirectMS, err = directCreate(ctx, cs, survivors, gained, "direct"); err != nil {
		return rep, err
	}
	cpu3, err := sampleCPU(pids)
	if err != nil {
		return rep, err
	}
	rep.CPUDirect = cpu3.since(cpu2)
	rep.DirectPodsS = int(float64(rep.Moved) / (float64(rep.DirectMS) / 1000))
	rep.Ratio = float64(rep.DirectMS) / float64(rep.ReadyMS-rep.DetectMS)
	rep.RatioFromKill = float64(rep.DirectMS) / float64(rep.ReadyMS)
	logf("direct: %d ms; deleting it. CPU in cores, takeover: sites %.2f of %.2f; direct: sites %.2f of %.2f",
		rep.DirectMS, rep.CPUTakeover.Sites, rep.CPUTakeover.Machine, rep.CPUDirect.Sites, rep.CPUDirect.Machine)
	for _, c := range survivors {
		if err := cs[c].CoreV1().Namespaces().Delete(ctx, "direct", metav1.DeleteOptions{}); err != nil {
			return rep, err
		}
	}
	for _, c := range survivors {
		if err := waitGone(ctx, cs[c], "direct"); err != nil {
			return rep, err
		}
	}

	// Failback: the killed site's region lost its Deployments; then the site comes back.
	if err := cs[victim].AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return rep, err
	}
	if _, err := obs.until(ctx, "the killed site's Deployments gone", 5*time.Minute, func(v view) bool { return len(v.exists[victim]) == 0 }); err != nil {
		return rep, err
	}
	logf("failback: restarting %s", f.Names[victim])
	t2 := time.Now()
	if err := f.StartSite(ctx, victim); err != nil {
		return rep, err
	}
	rep.MinReadyDuringFailback = rep.Pods
	back := progress("failback", []int{victim})
	settled := func(v view) bool {
		back(v)
		ready, short := 0, 0
		for _, n := range names {
			r := v.sum(n, all, true)
			ready += r
			short += max(replicas-r, 0)
		}
		rep.DeletedAfterHeal = max(rep.DeletedAfterHeal, short)
		rep.MinReadyDuringFailback = min(rep.MinReadyDuringFailback, ready)
		return want(v, all, false) && want(v, all, true) && total(v, []int{victim}, true) == rep.Moved
	}
	if _, err = obs.until(ctx, "failback settled", 30*time.Minute, settled); err != nil {
		return rep, err
	}
	rep.FailbackMS = time.Since(t2).Milliseconds()
	// Hold it a little longer: the placement must stay put.
	deadline := time.Now().Add(10 * time.Second)
	v, err = obs.until(ctx, "", time.Minute, func(v view) bool { settled(v); return time.Now().After(deadline) })
	if err != nil {
		return rep, err
	}
	for _, n := range names {
		rep.DuplicatedAfterHeal += max(v.sum(n, all, false)-replicas, 0)
	}
	logf("failback: %d ms, least ready %d of %d", rep.FailbackMS, rep.MinReadyDuringFailback, rep.Pods)
	return rep, nil
}

// directCreate creates in namespace ns of each cluster c one Deployment per entry of
// want[c] (name: replicas) through client-go, 8 at a time per cluster, and returns the
// time from the first create until every one is ready.
func directCreate(ctx context.Context, cs []*kubernetes.Clientset, clusters []int, want []map[string]int, ns string) (int64, error) {
	for _, c := range clusters {
		if _, err := cs[c].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(clusters)*8)
	for _, c := range clusters {
		names := make(chan string)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range names {
					d := deployment(n)
					r := int32(want[c][n])
					d.Spec.Replicas = &r
					if _, err := cs[c].AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
						errs <- err
						cancel() // the feeder stops too
						return
					}
				}
			}()
		}
		go func() {
			defer close(names)
			for n := range want[c] {
				select {
				case names <- n:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	for _, c := range clusters {
		if err := waitReady(ctx, cs[c], ns, len(want[c])); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Milliseconds(), nil
}

// waitGone waits until namespace ns is gone from a cluster, its pods with it.
func waitGone(ctx context.Context, cs *kubernetes.Clientset, ns string) error {
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s not gone: %w", ns, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// profileSites sends SIGUSR1 to each pid when o.CPUProfile: the first signal starts a site's
// CPU profile, the next writes it next to the site's log.
func profileSites(o Options, pids []int) error {
	if !o.CPUProfile {
		return nil
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			return fmt.Errorf("profile site %d: %w", pid, err)
		}
	}
	return nil
}
