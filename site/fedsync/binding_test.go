package fedsync

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBinding: a template's ResourceBinding lists the clusters that run it with their
// replicas, and each cluster's report: healthy once it runs the current change with its
// replicas available, refused clusters unapplied and out of spec.clusters; FullyApplied
// only when every cluster runs the current change.
func TestBinding(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "Web", "namespace": "shop", "uid": "u1"}, "spec": map[string]any{"replicas": int64(5)}}}
	k := kinds[0]
	if _, _, ok := binding(u, k, "c2", Aggregate{}); ok {
		t.Fatal("a binding for a template no cluster reports")
	}
	spec, status, ok := binding(u, k, "c2", Aggregate{Clusters: []ClusterStatus{
		{Site: "a", Cluster: "x", Desired: 3, Ready: 3, Available: 3, Updated: 3, Change: "c2"},
		{Site: "b", Cluster: "y", Desired: 2, Ready: 1, Available: 1, Updated: 1, Change: "c2"},
		{Site: "c", Cluster: "z", Refused: "admission: privileged"},
	}})
	if !ok || resourceBindingName(k.kind, "Web") != "web-deployment" {
		t.Fatalf("ok %v, name %s", ok, resourceBindingName(k.kind, "Web"))
	}
	if got := jsonOf(t, spec["clusters"]); got != `[{"name":"a/x","replicas":3},{"name":"b/y","replicas":2}]` {
		t.Errorf("spec.clusters %s", got)
	}
	if got := jsonOf(t, spec["resource"]); got != `{"apiVersion":"apps/v1","kind":"Deployment","name":"Web","namespace":"shop","uid":"u1"}` || spec["replicas"] != int64(5) {
		t.Errorf("spec.resource %s, replicas %v", got, spec["replicas"])
	}
	agg := status["aggregatedStatus"].([]any)
	want := []string{
		`{"applied":true,"clusterName":"a/x","health":"Healthy","status":{"availableReplicas":3,"readyReplicas":3,"replicas":3,"updatedReplicas":3}}`,
		`{"applied":true,"clusterName":"b/y","health":"Unhealthy","status":{"availableReplicas":1,"readyReplicas":1,"replicas":2,"updatedReplicas":1}}`,
		`{"applied":false,"appliedMessage":"admission: privileged","clusterName":"c/z","health":"Unhealthy","status":{"availableReplicas":0,"readyReplicas":0,"replicas":0,"updatedReplicas":0}}`,
	}
	for i, w := range want {
		if got := jsonOf(t, agg[i]); got != w {
			t.Errorf("aggregatedStatus[%d] %s\nwant %s", i, got, w)
		}
	}
	if got := jsonOf(t, status["conditions"].([]any)[1]); got != `{"message":"not every cluster runs the current template","reason":"FullyAppliedFailed","status":"False","type":"FullyApplied"}` {
		t.Errorf("FullyApplied %s", got)
	}
	// Every cluster on the current change, none refused: fully applied. One still on the
	// previous change: its health is unknown, and not fully applied.
	_, status, _ = binding(u, k, "c2", Aggregate{Clusters: []ClusterStatus{{Site: "a", Cluster: "x", Desired: 5, Available: 5, Change: "c2"}}})
	if c := status["conditions"].([]any)[1].(map[string]any); c["status"] != "True" {
		t.Errorf("FullyApplied %v, want True", c)
	}
	_, status, _ = binding(u, k, "c2", Aggregate{Clusters: []ClusterStatus{{Site: "a", Cluster: "x", Desired: 5, Available: 5, Change: "c1"}}})
	if c, h := status["conditions"].([]any)[1].(map[string]any), status["aggregatedStatus"].([]any)[0].(map[string]any)["health"]; c["status"] != "False" || h != "Unknown" {
		t.Errorf("on the previous change: FullyApplied %v, health %v", c["status"], h)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBindingJob: a Job's binding names its parallelism as replicas and shows each
// cluster's counts in a Job's status shape; a Job is healthy while it has not failed,
// pending pods or not. A DaemonSet's shows its pods by node.
func TestBindingJob(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "report", "namespace": "batch", "uid": "u1"}, "spec": map[string]any{"parallelism": int64(2), "completions": int64(4)}}}
	jk, _ := kindOf("batch/v1", "Job")
	spec, status, _ := binding(u, jk, "c1", Aggregate{Clusters: []ClusterStatus{
		{Site: "a", Cluster: "x", Desired: 1, Change: "c1", Job: &JobCounts{Active: 1}},
		{Site: "b", Cluster: "y", Desired: 1, Ready: 0, Change: "c1", Conditions: "FailureTarget=True,Failed=True", Job: &JobCounts{Failed: 7}},
	}})
	if spec["replicas"] != int64(2) {
		t.Errorf("spec.replicas %v, want the parallelism 2", spec["replicas"])
	}
	agg := status["aggregatedStatus"].([]any)
	want := []string{
		`{"applied":true,"clusterName":"a/x","health":"Healthy","status":{"active":1,"failed":0,"succeeded":0}}`,
		`{"applied":true,"clusterName":"b/y","health":"Unhealthy","status":{"active":0,"conditions":[{"status":"True","type":"FailureTarget"},{"status":"True","type":"Failed"}],"failed":7,"succeeded":0}}`,
	}
	for i, w := range want {
		if got := jsonOf(t, agg[i]); got != w {
			t.Errorf("aggregatedStatus[%d] %s\nwant %s", i, got, w)
		}
	}
	dk, _ := kindOf("apps/v1", "DaemonSet")
	_, status, _ = binding(u, dk, "c1", Aggregate{Clusters: []ClusterStatus{{Site: "a", Cluster: "x", Desired: 3, Ready: 3, Available: 3, Updated: 3, Change: "c1"}}})
	if got := jsonOf(t, status["aggregatedStatus"].([]any)[0]); got != `{"applied":true,"clusterName":"a/x","health":"Healthy","status":{"desiredNumberScheduled":3,"numberAvailable":3,"numberReady":3,"updatedNumberScheduled":3}}` {
		t.Errorf("a DaemonSet's: %s", got)
	}
}
