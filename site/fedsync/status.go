package fedsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ClusterStatus is what one site reports of a workload in one of its clusters.
type ClusterStatus struct {
	Site, Cluster                      string
	Desired, Ready, Available, Updated int
	// Change is the workload's change the cluster runs, once its controllers acted on it;
	// "" while they have not.
	Change  string
	Refused string // why the site refuses to run it there; "" if it does not
	// Conditions summarizes the cluster's object's status conditions, "Type=Status,...".
	Conditions string
	// Job is a Job's counts there; nil where its site does not report them (a charter
	// below format level 2).
	Job *JobCounts
}

// JobCounts are a Job's pods in one cluster: running or pending, succeeded, failed.
type JobCounts struct{ Active, Succeeded, Failed int }

// Aggregate is a workload's status across the federation's clusters.
type Aggregate struct {
	Clusters []ClusterStatus
}

// StatusStore is the Store of a controller that writes templates' status back.
type StatusStore interface {
	Status(r Ref) Aggregate
}

// statusKinds are the kinds whose status the controller aggregates, as Karmada does for
// them: what kubectl rollout status, kubectl wait and GitOps health checks read.
var statusKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job"}

// conditionKinds are the statusKinds whose status carries Atoll's own conditions
// (Propagated, Stored): not a Job, whose conditions the API server checks as the Job
// controller's.
var conditionKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// aggregate is the status of a template whose spec asks for replicas, at generation
// (the API object's), stored as change, from what the clusters report. prev is the
// status it has now: observedGeneration stays there until every cluster that runs it
// runs change and together they run at least replicas, and a condition keeps its
// lastTransitionTime while its status does not change.
func aggregate(replicas, generation int64, change string, a Aggregate, prev map[string]any, now time.Time) map[string]any {
	var sum struct{ desired, ready, available, updated int64 }
	current := true
	var refused []string
	for _, c := range a.Clusters {
		sum.desired += int64(c.Desired)
		sum.ready += int64(c.Ready)
		sum.available += int64(c.Available)
		if c.Change == change {
			sum.updated += int64(c.Updated)
		} else if c.Desired > 0 {
			current = false
		}
		if c.Refused != "" {
			refused = append(refused, c.Site+"/"+c.Cluster+": "+c.Refused)
		}
	}
	current = current && sum.desired >= replicas && len(refused) == 0
	observed, _, _ := unstructured.NestedInt64(prev, "observedGeneration")
	if current {
		observed = generation
	}
	out := map[string]any{
		"observedGeneration": observed,
		"replicas":           sum.desired,
		"readyReplicas":      sum.ready,
		"availableReplicas":  sum.available,
		"updatedReplicas":    sum.updated,
	}
	prevConds, _, _ := unstructured.NestedSlice(prev, "conditions")
	cond := func(typ string, ok bool, reason, msg string) map[string]any {
		return condition(prevConds, typ, ok, reason, msg, now)
	}
	available := sum.available >= replicas
	avReason := "MinimumReplicasAvailable"
	if !available {
		avReason = "MinimumReplicasUnavailable"
	}
	progReason, progMsg := "ReplicaSetUpdated", fmt.Sprintf("%d of %d replicas updated across the federation's clusters", sum.updated, replicas)
	if current && sum.updated >= replicas && available {
		progReason, progMsg = "NewReplicaSetAvailable", "every cluster runs the current template"
	}
	conds := []any{
		cond("Available", available, avReason, fmt.Sprintf("%d of %d replicas available across the federation's clusters", sum.available, replicas)),
		cond("Progressing", true, progReason, progMsg),
	}
	if len(refused) > 0 {
		conds = append(conds, cond("Propagated", false, "Refused", strings.Join(refused, "; ")))
	}
	out["conditions"] = conds
	return out
}

// writeStatus writes the aggregated status of a template in sync with the state into its
// API object's status, if it changed. It returns the object's new resourceVersion ("" if
// nothing was written).
func (c *Controller) writeStatus(ctx context.Context, it item, u *unstructured.Unstructured, s Object, agg Aggregate) (string, error) {
	_, ok := c.cfg.Store.(StatusStore)
	k := it.kind
	if !ok || k.policy || !slices.Contains(statusKinds, k.kind) {
		return "", nil
	}
	prev, _, _ := unstructured.NestedMap(u.Object, "status")
	var want map[string]any
	switch k.kind {
	case "DaemonSet":
		want = aggregateDaemonSet(u.GetGeneration(), s.Change, agg, prev, time.Now())
	case "Job":
		want = aggregateJob(agg, prev, time.Now())
	default:
		replicas, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found {
			replicas = 1 // the API server's default for both kinds
		}
		want = aggregate(replicas, u.GetGeneration(), s.Change, agg, prev, time.Now())
	}
	if prev == nil && len(want) == 0 || equalJSON(prev, want) {
		return "", nil
	}
	v := u.DeepCopy()
	if err := unstructured.SetNestedField(v.Object, want, "status"); err != nil {
		return "", err
	}
	out, err := c.resource(it).UpdateStatus(ctx, v, metav1.UpdateOptions{FieldManager: "atoll"})
	if err != nil {
		return "", fmt.Errorf("status of %s: %w", it, err)
	}
	return out.GetResourceVersion(), nil
}

// equalJSON compares two JSON-like values by their encoding (keys sorted).
func equalJSON(a, b map[string]any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// refusedStatus sets the condition Stored=False, reason Refused, on an object of a kind
// whose status the site writes, keeping its other conditions; it returns the new
// resourceVersion, or "" if it wrote nothing.
func (c *Controller) refusedStatus(ctx context.Context, it item, u *unstructured.Unstructured, why error) (string, error) {
	k := it.kind
	if k.policy || !slices.Contains(conditionKinds, k.kind) {
		return "", nil
	}
	v := u.DeepCopy()
	prev, _, _ := unstructured.NestedSlice(v.Object, "status", "conditions")
	ts := time.Now().UTC().Format(time.RFC3339)
	conds := []any{map[string]any{"type": "Stored", "status": "False", "reason": "Refused",
		"message": truncate(why.Error(), 1024), "lastUpdateTime": ts, "lastTransitionTime": ts}}
	for _, x := range prev {
		if m, ok := x.(map[string]any); !ok || m["type"] != "Stored" {
			conds = append(conds, x)
		}
	}
	if err := unstructured.SetNestedSlice(v.Object, conds, "status", "conditions"); err != nil {
		return "", err
	}
	out, err := c.resource(it).UpdateStatus(ctx, v, metav1.UpdateOptions{FieldManager: "atoll"})
	if err != nil {
		return "", fmt.Errorf("status of %s: %w", it, err)
	}
	return out.GetResourceVersion(), nil
}
