package site

import (
	"maps"
	"testing"

	"atoll/scheduler"
	"atoll/site/kube"
)

// TestWithAutoscalers: an HPA placed here goes to the clusters that run its target, each
// told the target's share there and the federation's total.
func TestWithAutoscalers(t *testing.T) {
	hpa := []byte("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 10\n")
	orphan := []byte("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: gone}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: gone}\n  maxReplicas: 4\n")
	wl := func(key, kind string, replicas int, template []byte) workload {
		w := workload{sched: scheduler.Workload{Key: key}}
		w.render = kube.Workload{Namespace: "shop", Name: key[len("shop/"):], Kind: kind, Replicas: replicas, Template: template}
		return w
	}
	ws := []workload{
		wl("shop/web", "Deployment", 6, []byte("{}")),
		wl("shop/horizontalpodautoscaler.web", "HorizontalPodAutoscaler", -1, hpa),
		wl("shop/horizontalpodautoscaler.gone", "HorizontalPodAutoscaler", -1, orphan),
	}
	out := []placed{
		{w: ws[0].render, clusters: map[string]int{"c0": 3, "c1": 1}},
		{w: ws[1].render, clusters: map[string]int{"c0": 1, "c1": 1, "c2": 1}},
		{w: ws[2].render, clusters: map[string]int{"c0": 1}},
	}
	got := withAutoscalers(ws, out)
	if want := map[string]int{"c0": 3, "c1": 1}; !maps.Equal(got[1].clusters, want) || got[1].w.ScaleOf != 6 {
		t.Errorf("the HPA of web: clusters %v, ScaleOf %d; want %v and 6", got[1].clusters, got[1].w.ScaleOf, want)
	}
	if want := map[string]int{"c0": 1}; !maps.Equal(got[2].clusters, want) || got[2].w.ScaleOf != 0 {
		t.Errorf("an HPA whose target is not placed here: %v, %d; want it as written", got[2].clusters, got[2].w.ScaleOf)
	}
}
