package kube_test

import (
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestChangedStatus: once Atoll applied a Deployment, its pods becoming ready (the
// cluster's controllers and kwok) wake the hook, and Changed names the object, and only
// it, as the cache holds it, with its ready replicas.
func TestChangedStatus(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	a := newApplier(t, c, time.Hour, nil, nil)
	var woken atomic.Int64
	a.OnStatus(func() { woken.Add(1) })
	ns := namespace("changed")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	_, key, err := a.Apply(ctx, render(t, ns, "web", webDeployment, 2))
	if err != nil {
		t.Fatal(err)
	}
	ready := int64(0)
	until(ctx, t, "Changed to report web with 2 ready replicas", func() (bool, error) {
		for k, u := range a.Changed() {
			if k != key {
				t.Fatalf("Changed named %s; only %s was applied", k, key)
			}
			ready, _, _ = unstructured.NestedInt64(u.Object, "status", "readyReplicas")
		}
		return ready == 2, nil
	})
	if woken.Load() == 0 {
		t.Fatal("the status changed but the hook was never called")
	}
}
