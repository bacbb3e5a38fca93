package fedsync

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestAggregate: the federation's status of a template, as kubectl rollout status reads
// it: observedGeneration moves only once every cluster runs the current change and they
// run all the replicas together.
func TestAggregate(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	cs := func(c1, c2 string, ready int) Aggregate {
		return Aggregate{Clusters: []ClusterStatus{
			{Site: "a", Cluster: "c0", Desired: 2, Ready: ready, Available: ready, Updated: 2, Change: c1},
			{Site: "b", Cluster: "c1", Desired: 2, Ready: 2, Available: 2, Updated: 2, Change: c2},
		}}
	}
	prev := map[string]any{"observedGeneration": int64(1)}
	cond := func(st map[string]any, typ string) map[string]any {
		conds, _, _ := unstructured.NestedSlice(st, "conditions")
		for _, c := range conds {
			if m := c.(map[string]any); m["type"] == typ {
				return m
			}
		}
		t.Fatalf("no condition %s in %v", typ, st)
		return nil
	}
	// One cluster still runs the old change: not observed, updated counts the other only.
	st := aggregate(4, 2, "new", cs("old", "new", 2), prev, now)
	if st["observedGeneration"] != int64(1) || st["updatedReplicas"] != int64(2) || st["replicas"] != int64(4) {
		t.Fatalf("mid-rollout: %v", st)
	}
	if c := cond(st, "Progressing"); c["reason"] != "ReplicaSetUpdated" {
		t.Fatalf("mid-rollout Progressing %v", c)
	}
	// Both run it, one not ready: observed, not available.
	st = aggregate(4, 2, "new", cs("new", "new", 1), prev, now)
	if st["observedGeneration"] != int64(2) || st["availableReplicas"] != int64(3) || cond(st, "Available")["status"] != "False" {
		t.Fatalf("one not ready: %v", st)
	}
	// All ready: available, and rolled out; a later pass keeps the conditions' times.
	done := aggregate(4, 2, "new", cs("new", "new", 2), st, now)
	if cond(done, "Available")["status"] != "True" || cond(done, "Progressing")["reason"] != "NewReplicaSetAvailable" {
		t.Fatalf("rolled out: %v", done)
	}
	again := aggregate(4, 2, "new", cs("new", "new", 2), done, now.Add(time.Hour))
	if !equalJSON(done, again) {
		t.Fatalf("a pass with nothing new changed the status:\n%v\n%v", done, again)
	}
	// Too few replicas run (a site's share not taken over): not observed.
	short := Aggregate{Clusters: cs("new", "new", 2).Clusters[:1]}
	if st := aggregate(4, 3, "new", short, done, now); st["observedGeneration"] != int64(2) {
		t.Fatalf("short of replicas: %v", st)
	}
	// A refusal is a condition, and holds the generation back.
	ref := cs("new", "new", 2)
	ref.Clusters[1].Refused = "kind not allowed"
	st = aggregate(4, 3, "new", ref, done, now)
	if st["observedGeneration"] != int64(2) || cond(st, "Propagated")["reason"] != "Refused" {
		t.Fatalf("refused: %v", st)
	}
}
