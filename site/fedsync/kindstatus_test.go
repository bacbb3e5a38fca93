package fedsync

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/deploy/fedapi"
	"atoll/deploy/kubeproc"
)

var t0 = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

// jobAt is one cluster's report of a Job.
func jobAt(cluster, conds string, active, succeeded, failed int) ClusterStatus {
	return ClusterStatus{Site: "s", Cluster: cluster, Desired: 1, Change: "c1", Conditions: conds,
		Job: &JobCounts{Active: active, Succeeded: succeeded, Failed: failed}}
}

// TestAggregateDaemonSet sums the clusters' pods by node; observedGeneration moves once
// every cluster runs the change; zeros are left out as the API server leaves them out.
func TestAggregateDaemonSet(t *testing.T) {
	a := Aggregate{Clusters: []ClusterStatus{
		{Site: "a", Cluster: "c0", Desired: 3, Ready: 3, Available: 3, Updated: 3, Change: "c1"},
		{Site: "b", Cluster: "c1", Desired: 2, Ready: 1, Available: 1, Updated: 2, Change: "c0"},
	}}
	st := aggregateDaemonSet(2, "c1", a, map[string]any{"observedGeneration": int64(1)}, t0)
	want := map[string]any{"desiredNumberScheduled": int64(5), "currentNumberScheduled": int64(5), "numberReady": int64(4),
		"numberMisscheduled": int64(0), "observedGeneration": int64(1), "numberAvailable": int64(4), "updatedNumberScheduled": int64(3),
		"numberUnavailable": int64(1)}
	if !equalJSON(st, want) {
		t.Errorf("mid-rollout: %v, want %v", st, want)
	}
	a.Clusters[1].Change, a.Clusters[1].Ready, a.Clusters[1].Available = "c1", 2, 2
	st = aggregateDaemonSet(2, "c1", a, st, t0)
	if st["observedGeneration"] != int64(2) || st["updatedNumberScheduled"] != int64(5) || st["numberUnavailable"] != nil {
		t.Errorf("rolled out: %v", st)
	}
}

// TestAggregateJob follows a Job divided over two clusters: counts summed, Complete once
// both completed (after SuccessCriteriaMet, with completionTime), never written again;
// Failed once one failed and nothing is active.
func TestAggregateJob(t *testing.T) {
	running := aggregateJob(Aggregate{Clusters: []ClusterStatus{jobAt("c0", "", 1, 0, 0), jobAt("c1", "", 1, 1, 0)}}, nil, t0)
	if !equalJSON(running, map[string]any{"active": int64(2), "succeeded": int64(1), "startTime": "2026-12-07T00:00:00Z"}) {
		t.Fatalf("running: %v", running)
	}
	half := aggregateJob(Aggregate{Clusters: []ClusterStatus{jobAt("c0", "SuccessCriteriaMet=True,Complete=True", 0, 2, 0), jobAt("c1", "", 1, 1, 0)}}, running, t0.Add(time.Minute))
	if half["startTime"] != "2026-12-07T00:00:00Z" || half["conditions"] != nil || half["succeeded"] != int64(3) {
		t.Fatalf("one complete: %v", half)
	}
	both := Aggregate{Clusters: []ClusterStatus{jobAt("c0", "SuccessCriteriaMet=True,Complete=True", 0, 2, 0), jobAt("c1", "SuccessCriteriaMet=True,Complete=True", 0, 2, 0)}}
	done := aggregateJob(both, half, t0.Add(2*time.Minute))
	conds, _, _ := unstructured.NestedSlice(done, "conditions")
	if len(conds) != 2 || !hasTrue(conds, "SuccessCriteriaMet") || !hasTrue(conds, "Complete") || done["completionTime"] != "2026-12-07T00:02:00Z" || done["active"] != nil {
		t.Fatalf("both complete: %v", done)
	}
	// Finished: never written again, whatever the clusters say (a Job pruned, say).
	if again := aggregateJob(Aggregate{Clusters: both.Clusters[:1]}, done, t0.Add(time.Hour)); !equalJSON(again, done) {
		t.Fatalf("after completion: %v", again)
	}
	// Counts never go down: a cluster's Job made anew starts from 0.
	if st := aggregateJob(Aggregate{Clusters: []ClusterStatus{jobAt("c0", "", 1, 0, 0)}}, half, t0); st["succeeded"] != int64(3) {
		t.Fatalf("fewer succeeded than before: %v", st)
	}
	// One failed while the other runs: not Failed yet (the API server refuses a finished
	// Job with active pods); once nothing is active, Failed after FailureTarget.
	failing := []ClusterStatus{jobAt("c0", "FailureTarget=True,Failed=True", 0, 0, 7), jobAt("c1", "", 1, 0, 0)}
	if st := aggregateJob(Aggregate{Clusters: failing}, nil, t0); st["conditions"] != nil {
		t.Fatalf("failed in one, active in the other: %v", st)
	}
	failing[1] = jobAt("c1", "SuccessCriteriaMet=True,Complete=True", 0, 1, 0)
	st := aggregateJob(Aggregate{Clusters: failing}, nil, t0)
	conds, _, _ = unstructured.NestedSlice(st, "conditions")
	if !hasTrue(conds, "FailureTarget") || !hasTrue(conds, "Failed") || hasTrue(conds, "Complete") || st["startTime"] == nil {
		t.Fatalf("failed: %v", st)
	}
	// A refusal holds Complete back; nobody reporting keeps what was.
	ref := both
	ref.Clusters = append(ref.Clusters[:2:2], ClusterStatus{Site: "s", Cluster: "c2", Refused: "kind not allowed"})
	if st := aggregateJob(ref, half, t0); st["conditions"] != nil {
		t.Fatalf("refused in one cluster: %v", st)
	}
	if st := aggregateJob(Aggregate{}, half, t0); !equalJSON(st, half) {
		t.Fatalf("nobody reports: %v", st)
	}
}

// TestJobStatusAccepted writes the statuses aggregateJob and aggregateDaemonSet compute
// to a real kube-apiserver (the federation API server, where no Job controller runs): it
// accepts each step of a Job that completes and of one that fails, as its validation of
// Job status transitions requires, and serves back what was written, so nothing is
// written twice.
func TestJobStatusAccepted(t *testing.T) {
	bin, err := kubeproc.BinDir("etcd", "kube-apiserver")
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	s, err := fedapi.Start(t.Context(), fedapi.Options{Dir: t.TempDir(), BinDir: bin, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jobs := dyn.Resource(schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}).Namespace("default")
	create := func(name string) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{"parallelism": int64(2), "completions": int64(4), "template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never", "containers": []any{map[string]any{"name": "r", "image": "registry.invalid/r:1"}}}}}}}
		if _, err := jobs.Create(t.Context(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// step writes the status aggregateJob computes from clusters at now, and checks that
	// the API server accepts it and serves it back.
	step := func(name string, now time.Time, clusters ...ClusterStatus) map[string]any {
		t.Helper()
		u, err := jobs.Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prev, _, _ := unstructured.NestedMap(u.Object, "status")
		want := aggregateJob(Aggregate{Clusters: clusters}, prev, now)
		if equalJSON(prev, want) {
			return prev
		}
		if err := unstructured.SetNestedField(u.Object, want, "status"); err != nil {
			t.Fatal(err)
		}
		out, err := jobs.UpdateStatus(t.Context(), u, metav1.UpdateOptions{FieldManager: "atoll"})
		if err != nil {
			t.Fatalf("status %v refused: %v", want, err)
		}
		got, _, _ := unstructured.NestedMap(out.Object, "status")
		if !equalJSON(got, want) {
			t.Fatalf("status written %v, served back %v", want, got)
		}
		return got
	}
	complete := "SuccessCriteriaMet=True,Complete=True"
	create("report")
	step("report", t0, jobAt("c0", "", 1, 0, 0), jobAt("c1", "", 1, 0, 0))
	step("report", t0.Add(time.Second), jobAt("c0", complete, 0, 2, 0), jobAt("c1", "", 1, 1, 0))
	done := step("report", t0.Add(2*time.Second), jobAt("c0", complete, 0, 2, 0), jobAt("c1", complete, 0, 2, 0))
	if conds, _, _ := unstructured.NestedSlice(done, "conditions"); !hasTrue(conds, "Complete") || done["succeeded"] != int64(4) {
		t.Fatalf("complete: %v", done)
	}
	create("flaky")
	step("flaky", t0, jobAt("c0", "", 1, 0, 1), jobAt("c1", "", 1, 0, 0))
	failed := step("flaky", t0.Add(time.Second), jobAt("c0", "FailureTarget=True,Failed=True", 0, 0, 7), jobAt("c1", complete, 0, 2, 0))
	if conds, _, _ := unstructured.NestedSlice(failed, "conditions"); !hasTrue(conds, "Failed") || !strings.Contains(failed["conditions"].([]any)[1].(map[string]any)["message"].(string), "s/c0") {
		t.Fatalf("failed: %v", failed)
	}

	// A DaemonSet's aggregated status is accepted and served back as written.
	dss := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}).Namespace("default")
	ds := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "agent"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "agent"}}, "template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": "agent"}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "a", "image": "registry.invalid/a:1"}}}}}}}
	out, err := dss.Create(t.Context(), ds, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ready := range []int{1, 2} {
		a := Aggregate{Clusters: []ClusterStatus{{Site: "s", Cluster: "c0", Desired: 2, Ready: ready, Available: ready, Updated: 2, Change: "c1"}}}
		prev, _, _ := unstructured.NestedMap(out.Object, "status")
		want := aggregateDaemonSet(out.GetGeneration(), "c1", a, prev, t0)
		if err := unstructured.SetNestedField(out.Object, want, "status"); err != nil {
			t.Fatal(err)
		}
		if out, err = dss.UpdateStatus(t.Context(), out, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("DaemonSet status %v refused: %v", want, err)
		}
		if got, _, _ := unstructured.NestedMap(out.Object, "status"); !equalJSON(got, want) {
			t.Fatalf("DaemonSet status written %v, served back %v", want, got)
		}
	}
}
