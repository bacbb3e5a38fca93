package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status is what a member cluster reports of an object Atoll applied there, read from the
// object's status as Karmada's interpreter reflects it, kind by kind.
type Status struct {
	// Desired is what the cluster's controllers mean to run: a DaemonSet's
	// desiredNumberScheduled (one pod per eligible node) and a Job's spec.parallelism;
	// -1 for the replicaKinds, whose desired count is the share the site placed, and for
	// kinds without pods.
	Desired int
	// Ready, Available and Updated count pods: a Deployment's readyReplicas,
	// availableReplicas and updatedReplicas (the same of a StatefulSet and ReplicaSet), a
	// DaemonSet's numberReady, numberAvailable and updatedNumberScheduled; a Job's are
	// JobReady's; a Pod's 1 when it runs and is Ready, or Succeeded; kinds without pods
	// report 1.
	Ready, Available, Updated int
	// Observed is the generation the controllers have acted on (observedGeneration; a
	// Job, which has none, and kinds without a controller report their generation).
	Observed int64
	// Current: the controllers have acted on the object's generation.
	Current bool
	// Conditions summarizes the status conditions: "Type=Status,..." in their order.
	Conditions string
	// Job is a Job's counts; nil for other kinds.
	Job *JobCounts
}

// JobCounts are a Job's status counts and whether it finished.
type JobCounts struct {
	Active, Succeeded, Failed int
	Complete                  bool // condition Complete=True
	Failing                   bool // condition Failed=True: it will not complete
}

// ReadStatus reads what the cluster reports of u, an object as the cluster holds it.
func ReadStatus(u *unstructured.Unstructured) Status {
	num := func(f string) int {
		v, _, _ := unstructured.NestedInt64(u.Object, "status", f)
		return int(max(0, min(v, 1<<31-1)))
	}
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	st := Status{Desired: -1, Observed: gen, Current: gen == u.GetGeneration(), Conditions: conditions(u)}
	group := u.GroupVersionKind().Group
	switch kind := u.GetKind(); {
	case (group == "apps" || group == "extensions") && (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet"):
		st.Ready, st.Available, st.Updated = num("readyReplicas"), num("availableReplicas"), num("updatedReplicas")
	case (group == "apps" || group == "extensions") && kind == "DaemonSet":
		st.Desired = num("desiredNumberScheduled")
		st.Ready, st.Available, st.Updated = num("numberReady"), num("numberAvailable"), num("updatedNumberScheduled")
	case group == "batch" && kind == "Job":
		p, found, _ := unstructured.NestedInt64(u.Object, "spec", "parallelism")
		if !found {
			p = 1 // the API server's default
		}
		st.Desired = int(max(0, min(p, 1<<31-1)))
		st.Observed, st.Current = u.GetGeneration(), true
		j := &JobCounts{Active: num("active"), Succeeded: num("succeeded"), Failed: num("failed"),
			Complete: HasCondition(st.Conditions, "Complete"), Failing: HasCondition(st.Conditions, "Failed")}
		st.Job = j
		st.Ready = JobReady(st.Desired, num("ready"), j)
		st.Available, st.Updated = st.Ready, st.Ready
	case group == "" && kind == "Pod":
		// Healthy as Karmada's interpreter reads a Pod: Succeeded, or Running and Ready.
		st.Desired, st.Observed, st.Current = 1, u.GetGeneration(), true
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		if phase == "Succeeded" || phase == "Running" && HasCondition(st.Conditions, "Ready") {
			st.Ready, st.Available, st.Updated = 1, 1, 1
		}
	default:
		st.Ready, st.Available, st.Updated = 1, 1, 1
		st.Observed, st.Current = 1, true
	}
	return st
}

// JobReady is how many of a Job's desired pods (its parallelism) count as ready: all of
// them once it is Complete, none once it Failed, and otherwise its pods that are ready
// (status.ready) or succeeded, at most desired. So a Job that runs or completed as asked
// reads as ready, as a Deployment that rolled out does, and one that failed does not.
func JobReady(desired, ready int, j *JobCounts) int {
	switch {
	case j.Complete:
		return desired
	case j.Failing:
		return 0
	}
	return min(desired, ready+j.Succeeded)
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

// HasCondition reports whether a conditions summary, as ReadStatus and the site's Status
// records hold it ("Type=Status,..."), holds typ=True.
func HasCondition(summary, typ string) bool {
	for c := range strings.SplitSeq(summary, ",") {
		if c == typ+"=True" {
			return true
		}
	}
	return false
}
