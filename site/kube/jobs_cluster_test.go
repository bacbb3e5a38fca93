package kube_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/crdt"
	"atoll/site/kube"
)

const reportJob = `apiVersion: batch/v1
kind: Job
spec:
  parallelism: 2
  completions: 4
  template:
    spec:
      restartPolicy: Never
      containers: [{name: report, image: registry.invalid/report:1}]
`

const agentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers: [{name: agent, image: registry.invalid/agent:1}]
`

// TestJobAndDaemonSetStatus reads a Job's and a DaemonSet's counts from a real cluster
// (the Job controller makes the pods, kwok runs them, and completes a Job's): a Job
// divided at format level 2 runs its share (parallelism 1, completions 2) and reads as
// Complete, 2 succeeded, ready; its share growing later keeps the completions it was
// created with (immutable) while its parallelism follows; a Job whose pods cannot be
// scheduled reads as active and not ready; the DaemonSet runs a pod on each of the
// cluster's Nodes and reads as that many desired and ready.
func TestJobAndDaemonSetStatus(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	a := newApplier(t, c, time.Millisecond, nil, nil)
	ns := namespace("jobs")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	apply := func(w kube.Workload, replicas int) *unstructured.Unstructured {
		t.Helper()
		u, err := kube.NewTemplates().Render(w, nil, replicas)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := a.Apply(ctx, u)
		if err != nil {
			t.Fatalf("apply %s: %v", w.Name, err)
		}
		return got
	}
	job := kube.Workload{Namespace: ns, Name: "report", Template: []byte(reportJob), Replicas: 2, Change: "c1",
		Format: crdt.FormatJobs, Completions: 2}
	var st kube.Status
	until(ctx, t, "the Job to complete", func() (bool, error) {
		st = kube.ReadStatus(apply(job, 1))
		return st.Job != nil && st.Job.Complete, nil
	})
	if st.Desired != 1 || st.Ready != 1 || st.Job.Succeeded != 2 || st.Job.Active != 0 || st.Job.Failing || !st.Current {
		t.Errorf("a complete Job of parallelism 1, completions 2: %+v, counts %+v", st, *st.Job)
	}
	job.Completions = 3
	got := apply(job, 2)
	if p, _, _ := unstructured.NestedInt64(got.Object, "spec", "parallelism"); p != 2 {
		t.Errorf("a new share of 2: parallelism %d", p)
	}
	if n, _, _ := unstructured.NestedInt64(got.Object, "spec", "completions"); n != 2 {
		t.Errorf("a new share of completions: the cluster's Job has %d, want the 2 it was created with", n)
	}

	stuck := job
	stuck.Name, stuck.Completions = "stuck", 0
	stuck.Template = []byte(reportJob + "      nodeSelector: {atoll.io/none: none}\n")
	until(ctx, t, "the unschedulable Job's pods", func() (bool, error) {
		st = kube.ReadStatus(apply(stuck, 2))
		return st.Job != nil && st.Job.Active == 2, nil
	})
	if st.Desired != 2 || st.Ready != 0 || st.Job.Succeeded != 0 || st.Job.Complete {
		t.Errorf("a Job whose pods cannot be scheduled: %+v, counts %+v; want 2 desired, 2 active, none ready", st, *st.Job)
	}

	ds := kube.Workload{Namespace: ns, Name: "agent", Template: []byte(agentDaemonSet), Replicas: -1, Change: "c1"}
	until(ctx, t, "the DaemonSet's pods on every Node", func() (bool, error) {
		st = kube.ReadStatus(apply(ds, 1))
		return st.Desired == 2 && st.Ready == 2, nil
	})
	if st.Available != 2 || st.Updated != 2 || !st.Current || st.Job != nil {
		t.Errorf("a DaemonSet on 2 Nodes: %+v", st)
	}
}
