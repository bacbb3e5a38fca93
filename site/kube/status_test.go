package kube

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// live returns a manifest as a member cluster serves it: numbers are int64, as the
// dynamic client decodes them.
func live(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	b, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReadStatus reads each kind's counts as Karmada's interpreter reflects them: a
// Deployment's replicas, a DaemonSet's pods by node, a Job's counts and whether it
// finished, and 1 of 1 for kinds without pods.
func TestReadStatus(t *testing.T) {
	const job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: shop, generation: 1}\nspec: {parallelism: 2, completions: 4}\n"
	for _, tc := range []struct {
		name     string
		manifest string
		want     Status
	}{
		{"a Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 3}\nstatus: {observedGeneration: 3, readyReplicas: 2, availableReplicas: 1, updatedReplicas: 2, conditions: [{type: Available, status: 'True'}]}\n",
			Status{Desired: -1, Ready: 2, Available: 1, Updated: 2, Observed: 3, Current: true, Conditions: "Available=True"}},
		{"a Deployment mid-rollout", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 4}\nstatus: {observedGeneration: 3}\n",
			Status{Desired: -1, Observed: 3}},
		{"a DaemonSet", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds, generation: 2}\nstatus: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, numberAvailable: 1, updatedNumberScheduled: 3}\n",
			Status{Desired: 3, Ready: 2, Available: 1, Updated: 3, Observed: 2, Current: true}},
		{"a Job running", job + "status: {active: 2, ready: 1, succeeded: 1}\n",
			Status{Desired: 2, Ready: 2, Available: 2, Updated: 2, Observed: 1, Current: true, Job: &JobCounts{Active: 2, Succeeded: 1}}},
		{"a Job pending", job + "status: {active: 2}\n",
			Status{Desired: 2, Observed: 1, Current: true, Job: &JobCounts{Active: 2}}},
		{"a Job complete", job + "status: {succeeded: 4, conditions: [{type: SuccessCriteriaMet, status: 'True'}, {type: Complete, status: 'True'}]}\n",
			Status{Desired: 2, Ready: 2, Available: 2, Updated: 2, Observed: 1, Current: true, Conditions: "SuccessCriteriaMet=True,Complete=True", Job: &JobCounts{Succeeded: 4, Complete: true}}},
		{"a Job failed", job + "status: {succeeded: 1, failed: 7, conditions: [{type: FailureTarget, status: 'True'}, {type: Failed, status: 'True'}]}\n",
			Status{Desired: 2, Observed: 1, Current: true, Conditions: "FailureTarget=True,Failed=True", Job: &JobCounts{Succeeded: 1, Failed: 7, Failing: true}}},
		{"a Job without parallelism", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, generation: 1}\nstatus: {active: 1, ready: 1}\n",
			Status{Desired: 1, Ready: 1, Available: 1, Updated: 1, Observed: 1, Current: true, Job: &JobCounts{Active: 1}}},
		{"a Job of another group", "apiVersion: example.com/v1\nkind: Job\nmetadata: {name: j}\n",
			Status{Desired: -1, Ready: 1, Available: 1, Updated: 1, Observed: 1, Current: true}},
		{"a Pod running and ready", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Running, conditions: [{type: Ready, status: 'True'}]}\n",
			Status{Desired: 1, Ready: 1, Available: 1, Updated: 1, Current: true, Conditions: "Ready=True"}},
		{"a Pod running, not ready", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Running, conditions: [{type: Ready, status: 'False'}]}\n",
			Status{Desired: 1, Current: true, Conditions: "Ready=False"}},
		{"a Pod pending", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Pending}\n",
			Status{Desired: 1, Current: true}},
		{"a Pod that succeeded", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Succeeded}\n",
			Status{Desired: 1, Ready: 1, Available: 1, Updated: 1, Current: true}},
		{"a ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
			Status{Desired: -1, Ready: 1, Available: 1, Updated: 1, Observed: 1, Current: true}},
	} {
		got := ReadStatus(live(t, tc.manifest))
		if got.Job != nil && tc.want.Job != nil && *got.Job == *tc.want.Job {
			got.Job = tc.want.Job
		}
		if got != tc.want {
			t.Errorf("%s: ReadStatus = %+v (job %+v), want %+v (job %+v)", tc.name, got, got.Job, tc.want, tc.want.Job)
		}
	}
}

// TestRenderJob: from format level 2 a Job's parallelism is its share of the replicas,
// and its completions the part Render is given (else the template's); below the level
// it is applied as written.
func TestRenderJob(t *testing.T) {
	w := Workload{Namespace: "shop", Name: "report", Replicas: 2, Change: "c1",
		Template: []byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: report}\nspec: {parallelism: 2, completions: 4, template: {}}\n")}
	spec := func(w Workload, replicas int) (p, c int64) {
		t.Helper()
		u, err := NewTemplates().Render(w, nil, replicas)
		if err != nil {
			t.Fatal(err)
		}
		p, _, _ = whole(u, "parallelism")
		c, _, _ = whole(u, "completions")
		return p, c
	}
	if w.Divides("Job") {
		t.Fatal("a Job divides below format level 2")
	}
	if p, c := spec(w, 1); p != 2 || c != 4 {
		t.Errorf("level 1: parallelism %d, completions %d; want the template's 2 and 4", p, c)
	}
	w.Format = 2
	if !w.Divides("Job") || w.Divides("CronJob") {
		t.Fatal("at level 2: a Job does not divide, or a CronJob does")
	}
	if p, c := spec(w, 1); p != 1 || c != 4 {
		t.Errorf("level 2, Duplicated: parallelism %d, completions %d; want 1 and the template's 4", p, c)
	}
	w.Completions = 3
	if p, c := spec(w, 1); p != 1 || c != 3 {
		t.Errorf("level 2, divided: parallelism %d, completions %d; want 1 and 3", p, c)
	}
}

// TestKeepCompletions: a Job applied over one the cluster holds keeps the cluster's
// completions (immutable), with the hash of what is applied; its parallelism follows.
func TestKeepCompletions(t *testing.T) {
	w := Workload{Namespace: "shop", Name: "report", Replicas: 2, Change: "c1", Format: 2, Completions: 2,
		Template: []byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: report}\nspec: {parallelism: 2, completions: 4, template: {}}\n")}
	first, err := NewTemplates().Render(w, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	cur := live(t, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: report, namespace: shop}\nspec: {parallelism: 1, completions: 2}\n")
	cur.SetAnnotations(first.GetAnnotations())
	if u, err := keepCompletions(cur, first); err != nil || u != first {
		t.Fatalf("the same completions: %v, %v; want the object itself", u, err)
	}
	w.Completions = 3
	next, err := NewTemplates().Render(w, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	u, err := keepCompletions(cur, next)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := whole(u, "parallelism")
	c, _, _ := whole(u, "completions")
	if p != 2 || c != 2 {
		t.Errorf("kept: parallelism %d, completions %d; want 2 (the new share) and 2 (the cluster's)", p, c)
	}
	if c, _, _ := whole(next, "completions"); c != 3 {
		t.Errorf("keepCompletions changed its argument: completions %d, want 3", c)
	}
	h := u.GetAnnotations()[AnnotationRendered]
	if h == next.GetAnnotations()[AnnotationRendered] || h == first.GetAnnotations()[AnnotationRendered] {
		t.Errorf("hash %s: want that of the object applied, neither the rendered one nor the first", h)
	}
	// Only the completions differ from the first: the object applied is the first one.
	w.Completions = 3
	same, _ := NewTemplates().Render(w, nil, 1)
	if u, _ := keepCompletions(cur, same); u.GetAnnotations()[AnnotationRendered] != first.GetAnnotations()[AnnotationRendered] {
		t.Errorf("a new share of completions only: hash %s, want the first's %s (nothing to apply)", u.GetAnnotations()[AnnotationRendered], first.GetAnnotations()[AnnotationRendered])
	}
	// Other kinds pass through.
	d := live(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n")
	if u, _ := keepCompletions(d, d); u != d {
		t.Error("a Deployment was changed")
	}
}
