package site

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/scheduler"
	"atoll/site/kube"
)

// A reconcile pass applies a cluster's workloads in groups, in the order a cluster needs
// them (applyGroups); within a group, Tuning.ApplyParallel at a time. One apply waits a
// round trip to the member's apiserver, so applying one after another bounds a failover
// of hundreds of workloads by latency, not by what the apiserver can take.

// applying is one workload's apply in one cluster: what to apply, then what came of it.
type applying struct {
	w        kube.Workload
	sched    *scheduler.Workload
	u        *unstructured.Unstructured
	replicas int

	got *unstructured.Unstructured // the object as the cluster holds it
	key string                     // kube.ObjectKey of what was applied ("" if nothing)
	err error
}

// applyGroups returns the placed workloads in the groups a cluster needs them in, in
// order: Namespaces, then CustomResourceDefinitions, then other cluster-scoped templates
// (ClusterRoles...), then namespaced workloads; each group in the plan's order. A group
// is applied only once the one before it was.
func applyGroups(ws []placed) [][]placed {
	rank := func(w kube.Workload) int {
		switch {
		case !w.ClusterScoped():
			return 3
		case w.Kind == "Namespace":
			return 0
		case w.Kind == "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	groups := make([][]placed, 4)
	for _, pl := range ws {
		r := rank(pl.w)
		groups[r] = append(groups[r], pl)
	}
	return groups
}

// applyAll applies jobs to a cluster through a, at most Tuning.ApplyParallel at once,
// and returns once every one has its outcome. A pass stopped by ctx leaves ctx's error
// in the jobs not started.
func (s *Site) applyAll(ctx context.Context, a *kube.Applier, cluster string, jobs []*applying) {
	workers := min(max(s.cfg.Tuning.ApplyParallel, 1), len(jobs))
	next := make(chan *applying)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				start := time.Now()
				j.got, j.key, j.err = a.Apply(ctx, j.u)
				observeSince(s.metrics.apply.WithLabelValues(cluster), start)
			}
		}()
	}
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			for _, rest := range jobs[i:] {
				rest.err = err
			}
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
}
