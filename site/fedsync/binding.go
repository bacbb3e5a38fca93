package fedsync

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Per-cluster detail of each template, in Karmada's shape: a ResourceBinding
// (work.karmada.io/v1alpha2) beside the template, named as Karmada names it, that lists
// the clusters running it with their replicas (spec.clusters) and what each reports
// (status.aggregatedStatus: applied, health, replicas). `kubectl get rb` reads it as at
// Karmada's API server. It is a projection the controller alone writes: readers may read
// it, nobody may write it, and it goes with its template.

var bindingGVR = schema.GroupVersionResource{Group: "work.karmada.io", Version: "v1alpha2", Resource: "resourcebindings"}

// bindingLabel marks the bindings the controller owns.
const bindingLabel = "atoll.io/binding"

// resourceBindingName is Karmada's name for a template's binding: <name>-<kind>, lower case.
func resourceBindingName(kind, name string) string { return strings.ToLower(name + "-" + kind) }

// binding returns the spec and status of the ResourceBinding of template u, of kind k,
// stored as change, from what the clusters report; ok is false if no cluster reports it
// (not placed anywhere: Karmada has no binding then either).
func binding(u *unstructured.Unstructured, k kind, change string, a Aggregate) (spec, status map[string]any, ok bool) {
	if len(a.Clusters) == 0 {
		return nil, nil, false
	}
	spec = map[string]any{"resource": map[string]any{
		"apiVersion": k.apiVersion(), "kind": k.kind, "namespace": u.GetNamespace(), "name": u.GetName(),
		"uid": string(u.GetUID()), // not its resourceVersion, which each status write moves
	}}
	field := "replicas"
	if k.kind == "Job" {
		field = "parallelism" // a Job's replicas, as Karmada's interpreter reads them
	}
	if r, found, _ := unstructured.NestedInt64(u.Object, "spec", field); found {
		spec["replicas"] = r
	}
	var clusters, agg []any
	applied := true
	for _, c := range a.Clusters {
		name := c.Site + "/" + c.Cluster
		target := map[string]any{"name": name}
		if c.Desired > 0 {
			target["replicas"] = int64(c.Desired)
		}
		health := "Unknown"
		switch {
		case c.Refused != "":
			health = "Unhealthy"
		case k.kind == "Job" && c.Change == change:
			// Healthy while it has not failed, as Karmada reads a Job.
			health = map[bool]string{false: "Healthy", true: "Unhealthy"}[conditionTrue(c.Conditions, "Failed")]
		case c.Change == change && c.Available >= c.Desired:
			health = "Healthy"
		case c.Change == change:
			health = "Unhealthy"
		}
		st := map[string]any{"clusterName": name, "applied": c.Refused == "", "health": health, "status": memberStatus(k.kind, c)}
		if c.Refused != "" {
			st["appliedMessage"] = c.Refused
			applied = false
		} else {
			clusters = append(clusters, target)
		}
		if c.Change != change {
			applied = false
		}
		agg = append(agg, st)
	}
	spec["clusters"] = clusters
	fully := map[string]any{"type": "FullyApplied", "status": "True", "reason": "FullyAppliedSuccess",
		"message": "every cluster runs the current template"}
	if !applied {
		fully["status"], fully["reason"], fully["message"] = "False", "FullyAppliedFailed", "not every cluster runs the current template"
	}
	scheduled := map[string]any{"type": "Scheduled", "status": "True", "reason": "Success",
		"message": "placed by the federation's sites"}
	return spec, map[string]any{"aggregatedStatus": agg, "conditions": []any{scheduled, fully}}, true
}

// memberStatus is what a binding's aggregatedStatus shows of one cluster, in the shape
// of the kind's own status (as Karmada reflects it): a Deployment's replicas, a
// DaemonSet's pods by node, a Job's counts.
func memberStatus(kind string, c ClusterStatus) map[string]any {
	switch kind {
	case "DaemonSet":
		return map[string]any{"desiredNumberScheduled": int64(c.Desired), "numberReady": int64(c.Ready),
			"numberAvailable": int64(c.Available), "updatedNumberScheduled": int64(c.Updated)}
	case "Job":
		st := map[string]any{}
		if j := c.Job; j != nil {
			st["active"], st["succeeded"], st["failed"] = int64(j.Active), int64(j.Succeeded), int64(j.Failed)
		}
		var conds []any
		for c := range strings.SplitSeq(c.Conditions, ",") {
			if typ, status, ok := strings.Cut(c, "="); ok {
				conds = append(conds, map[string]any{"type": typ, "status": status})
			}
		}
		if len(conds) > 0 {
			st["conditions"] = conds
		}
		return st
	}
	return map[string]any{"replicas": int64(c.Desired), "readyReplicas": int64(c.Ready),
		"availableReplicas": int64(c.Available), "updatedReplicas": int64(c.Updated)}
}

// writeBinding makes the ResourceBinding of template u equal to binding's, or removes it
// when there is none. It skips the API server when nothing changed since its last write.
func (c *Controller) writeBinding(ctx context.Context, it item, u *unstructured.Unstructured, change string, a Aggregate) error {
	k := it.kind
	if k.policy || !k.namespaced {
		return nil
	}
	spec, status, ok := binding(u, k, change, a)
	if !ok {
		return c.deleteBinding(ctx, it)
	}
	memo := fmt.Sprint(spec, status) // maps print sorted
	c.mu.Lock()
	same := c.bindings[it] == memo
	c.mu.Unlock()
	if same {
		return nil
	}
	// The conditions' times, set once each status is known: equal maps print equal.
	now := metav1.Now().UTC().Format("2006-01-02T15:04:05Z")
	for _, x := range status["conditions"].([]any) {
		x.(map[string]any)["lastTransitionTime"] = now
	}
	rb := c.dyn.Resource(bindingGVR).Namespace(it.namespace)
	name := resourceBindingName(k.kind, it.name)
	cur, err := rb.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		v := &unstructured.Unstructured{Object: map[string]any{"apiVersion": bindingGVR.GroupVersion().String(), "kind": "ResourceBinding",
			"metadata": map[string]any{"name": name, "namespace": it.namespace, "labels": map[string]any{bindingLabel: "true"}},
			"spec":     spec}}
		if cur, err = rb.Create(ctx, v, metav1.CreateOptions{FieldManager: "atoll"}); err != nil {
			return fmt.Errorf("binding of %s: %w", it, err)
		}
	case err != nil:
		return fmt.Errorf("binding of %s: %w", it, err)
	default:
		if !equalJSON(cur.Object["spec"].(map[string]any), spec) {
			cur.Object["spec"] = spec
			if cur, err = rb.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "atoll"}); err != nil {
				return fmt.Errorf("binding of %s: %w", it, err)
			}
		}
	}
	prev, _, _ := unstructured.NestedMap(cur.Object, "status")
	if conds, _, _ := unstructured.NestedSlice(prev, "conditions"); len(conds) == 2 {
		// Keep each condition's time while its status stays.
		for i, x := range status["conditions"].([]any) {
			if p, ok := conds[i].(map[string]any); ok && p["status"] == x.(map[string]any)["status"] && p["type"] == x.(map[string]any)["type"] {
				x.(map[string]any)["lastTransitionTime"] = p["lastTransitionTime"]
			}
		}
	}
	if !equalJSON(prev, status) {
		cur.Object["status"] = status
		if _, err := rb.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: "atoll"}); err != nil {
			return fmt.Errorf("binding status of %s: %w", it, err)
		}
	}
	c.mu.Lock()
	c.bindings[it] = memo
	c.mu.Unlock()
	return nil
}

// noBinding is the memo of a template whose binding was removed.
const noBinding = "none"

// deleteBinding removes the ResourceBinding of a template, if there is one.
func (c *Controller) deleteBinding(ctx context.Context, it item) error {
	k := it.kind
	if k.policy || !k.namespaced {
		return nil
	}
	c.mu.Lock()
	gone := c.bindings[it] == noBinding
	c.mu.Unlock()
	if gone {
		return nil
	}
	err := c.dyn.Resource(bindingGVR).Namespace(it.namespace).Delete(ctx, resourceBindingName(k.kind, it.name), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("binding of %s: %w", it, err)
	}
	c.mu.Lock()
	c.bindings[it] = noBinding
	c.mu.Unlock()
	return nil
}

// collectBindings removes the bindings whose template is gone from the API server:
// those a restart or a missed deletion left behind.
func (c *Controller) collectBindings(ctx context.Context) {
	list, err := c.dyn.Resource(bindingGVR).Namespace("").List(ctx, metav1.ListOptions{LabelSelector: bindingLabel})
	if err != nil {
		if ctx.Err() == nil {
			c.cfg.Log.Warn("kubernetes API: listing bindings", "err", err)
		}
		return
	}
	for _, rb := range list.Items {
		apiVersion, _, _ := unstructured.NestedString(rb.Object, "spec", "resource", "apiVersion")
		kindName, _, _ := unstructured.NestedString(rb.Object, "spec", "resource", "kind")
		name, _, _ := unstructured.NestedString(rb.Object, "spec", "resource", "name")
		k, ok := kindOf(apiVersion, kindName)
		if !ok {
			k, ok = c.customKind(apiVersion, kindName)
		}
		if l := c.lister(k); ok && l != nil && resourceBindingName(kindName, name) == rb.GetName() {
			if _, err := l.Get(rb.GetNamespace() + "/" + name); err == nil || !apierrors.IsNotFound(err) {
				continue // its template is there (or unknown): kept
			}
		}
		err := c.dyn.Resource(bindingGVR).Namespace(rb.GetNamespace()).Delete(ctx, rb.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			c.cfg.Log.Warn("kubernetes API: removing a binding", "binding", rb.GetNamespace()+"/"+rb.GetName(), "err", err)
		}
	}
}
