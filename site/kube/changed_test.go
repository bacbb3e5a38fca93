package kube_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// TestChangedStatus: once Atoll applied a Deployment, its pods becoming ready (the
// cluster's controllers and kwok) wake the hook, and Changed names the object, and only
// it of its namespace, as the cache holds it, with its ready replicas.
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
			if !strings.Contains(k, "/"+ns+"/") {
				continue // another test's object in the shared cluster
			}
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

// TestDrift: a Deployment Atoll applied wakes the drift hook when someone else changes
// its spec or deletes it, and its next Apply (the resync an hour away) restores it;
// Atoll's own writes and Prune's deletions wake nothing.
func TestDrift(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	a := newApplier(t, c, time.Hour, nil, nil)
	var drifts atomic.Int64
	a.OnDrift(func() { drifts.Add(1) })
	ns := namespace("drift")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	_, webKey, err := a.Apply(ctx, render(t, ns, "web", webDeployment, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Atoll's own writes: the create, then an apply of another replica count. The
	// informer delivers an object's events in order, so once the pods are ready the
	// events of both writes have been handled.
	if _, _, err := a.Apply(ctx, render(t, ns, "web", webDeployment, 3)); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "web's 3 replicas ready, as the informer sees it", func() (bool, error) {
		for k, u := range a.Changed() {
			if n, _, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas"); k == webKey && n == 3 {
				return true, nil
			}
		}
		return false, nil
	})
	if n := drifts.Load(); n != 0 {
		t.Fatalf("Atoll's own writes woke the drift hook %d times", n)
	}

	// Someone scales it by hand (another field manager): drift, undone by the next Apply.
	_, dyn := admin(t, c)
	deploys := dyn.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace(ns)
	if _, err := deploys.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":7}}`), metav1.PatchOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "the hand edit to wake the drift hook", func() (bool, error) { return drifts.Load() == 1, nil })
	got, _, err := a.Apply(ctx, render(t, ns, "web", webDeployment, 3))
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); n != 3 {
		t.Fatalf("after the edit, Apply left spec.replicas %d; want Atoll's 3", n)
	}

	// Prune removes another object of Atoll's: not drift. Then someone deletes web: drift
	// (the same informer, so web's deletion is handled after the pruned one's).
	_, oldKey, err := a.Apply(ctx, render(t, ns, "old", webDeployment, 1))
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := a.Prune(ctx, map[string]bool{webKey: true})
	if err != nil || !slices.Contains(deleted, oldKey) {
		t.Fatalf("Prune deleted %v (err %v); want %s among them", deleted, err, oldKey)
	}
	before := drifts.Load()
	if err := deploys.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "web's deletion to wake the drift hook", func() (bool, error) { return drifts.Load() > before, nil })
	if n := drifts.Load() - before; n != 1 {
		t.Fatalf("the prune and one deletion woke the drift hook %d times; want 1 (the deletion)", n)
	}
	until(ctx, t, "Apply to create web again", func() (bool, error) {
		u, _, err := a.Apply(ctx, render(t, ns, "web", webDeployment, 3))
		return err == nil && u.GetUID() != got.GetUID(), err
	})
}
