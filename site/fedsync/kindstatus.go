package fedsync

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The aggregated status of the kinds whose clusters report their own counts, with
// Karmada's semantics: a DaemonSet's counts are summed over its clusters; a Job's counts
// are summed, it is Complete once every cluster's Job completed, and Failed once one
// failed. Fields the API server leaves out when zero are left out here too, so that a
// status read back equals the one written and nothing is written twice.

// aggregateDaemonSet is the status of a DaemonSet template at generation (the API
// object's), stored as change, from what the clusters report (Desired: the pods the
// cluster schedules, one per eligible node). observedGeneration moves, as for a
// Deployment (aggregate), once every cluster that runs it runs change and none refuses
// it. currentNumberScheduled, which the sites do not report, is the pods scheduled.
func aggregateDaemonSet(generation int64, change string, a Aggregate, prev map[string]any, now time.Time) map[string]any {
	var desired, ready, available, updated int64
	current := len(a.Clusters) > 0
	var refused []string
	for _, c := range a.Clusters {
		desired += int64(c.Desired)
		ready += int64(c.Ready)
		available += int64(c.Available)
		if c.Change == change {
			updated += int64(c.Updated)
		} else if c.Desired > 0 {
			current = false
		}
		if c.Refused != "" {
			refused = append(refused, c.Site+"/"+c.Cluster+": "+c.Refused)
		}
	}
	observed, _, _ := unstructured.NestedInt64(prev, "observedGeneration")
	if current && len(refused) == 0 {
		observed = generation
	}
	out := map[string]any{
		"desiredNumberScheduled": desired, "currentNumberScheduled": desired, "numberReady": ready, "numberMisscheduled": int64(0),
	}
	nonZero(out, "observedGeneration", observed)
	nonZero(out, "numberAvailable", available)
	nonZero(out, "updatedNumberScheduled", updated)
	nonZero(out, "numberUnavailable", desired-available)
	if len(refused) > 0 {
		prevConds, _, _ := unstructured.NestedSlice(prev, "conditions")
		out["conditions"] = []any{condition(prevConds, "Propagated", false, "Refused", strings.Join(refused, "; "), now)}
	}
	return out
}

// aggregateJob is the status of a Job template from what the clusters report: active,
// succeeded and failed summed over the clusters that report counts (never below what the
// status held: the API server refuses a count that goes down); startTime when a cluster
// first reports the Job started; Complete (after SuccessCriteriaMet, with completionTime)
// once every cluster's Job completed and none refuses it, and Failed (after
// FailureTarget) once one failed and no pod is active, as the API server requires of a
// Job's status. A finished status is never written again (Karmada's rule), and without
// any cluster to report it prev is kept.
func aggregateJob(a Aggregate, prev map[string]any, now time.Time) map[string]any {
	prevConds, _, _ := unstructured.NestedSlice(prev, "conditions")
	if hasTrue(prevConds, "Complete") || hasTrue(prevConds, "Failed") || len(a.Clusters) == 0 {
		return prev
	}
	var sum JobCounts
	complete, refused := 0, false
	var failedIn []string
	for _, c := range a.Clusters {
		if c.Refused != "" {
			refused = true
			continue
		}
		if j := c.Job; j != nil {
			sum.Active += j.Active
			sum.Succeeded += j.Succeeded
			sum.Failed += j.Failed
		}
		switch {
		case conditionTrue(c.Conditions, "Failed"):
			failedIn = append(failedIn, c.Site+"/"+c.Cluster)
		case conditionTrue(c.Conditions, "Complete"):
			complete++
		}
	}
	prevNum := func(f string) int64 { n, _, _ := unstructured.NestedInt64(prev, f); return n }
	out := map[string]any{}
	nonZero(out, "active", int64(sum.Active))
	nonZero(out, "succeeded", max(prevNum("succeeded"), int64(sum.Succeeded)))
	nonZero(out, "failed", max(prevNum("failed"), int64(sum.Failed)))
	ts := now.UTC().Format(time.RFC3339)
	start, _, _ := unstructured.NestedString(prev, "startTime")
	failing := len(failedIn) > 0 && sum.Active == 0
	done := !refused && complete == len(a.Clusters)
	if start == "" && (sum.Active+sum.Succeeded+sum.Failed > 0 || failing || done) {
		start = ts
	}
	if start != "" {
		out["startTime"] = start
	}
	cond := func(typ, reason, msg string) any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg, "lastProbeTime": ts, "lastTransitionTime": ts}
	}
	switch {
	case failing:
		msg := "the Job failed in " + strings.Join(failedIn, ", ")
		out["conditions"] = []any{cond("FailureTarget", "FailedInCluster", msg), cond("Failed", "FailedInCluster", msg)}
	case done:
		msg := fmt.Sprintf("the Job completed in every cluster (%d)", complete)
		out["conditions"] = []any{cond("SuccessCriteriaMet", "CompletionsReached", msg), cond("Complete", "CompletionsReached", msg)}
		out["completionTime"] = ts
	}
	return out
}

// nonZero sets m[k] to n unless n is 0 (a field the API server leaves out when zero).
func nonZero(m map[string]any, k string, n int64) {
	if n != 0 {
		m[k] = n
	}
}

// condition is a status condition; one of prev equal in type, status, reason and message
// is kept with its times.
func condition(prev []any, typ string, ok bool, reason, msg string, now time.Time) map[string]any {
	st := "False"
	if ok {
		st = "True"
	}
	for _, p := range prev {
		if m, _ := p.(map[string]any); m["type"] == typ && m["status"] == st && m["reason"] == reason && m["message"] == msg {
			return m // unchanged: its times stay
		}
	}
	ts := now.UTC().Format(time.RFC3339)
	return map[string]any{"type": typ, "status": st, "reason": reason, "message": msg, "lastUpdateTime": ts, "lastTransitionTime": ts}
}

// hasTrue reports whether conditions hold typ with status True.
func hasTrue(conds []any, typ string) bool {
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// conditionTrue reports whether a conditions summary ("Type=Status,...", as the sites
// report it) holds typ=True.
func conditionTrue(summary, typ string) bool {
	for c := range strings.SplitSeq(summary, ",") {
		if c == typ+"=True" {
			return true
		}
	}
	return false
}
