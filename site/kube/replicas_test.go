package kube

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func hpa(ns, apiVersion, kind, name string) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scaler"}}
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: name}
	return h
}

func TestOwnsReplicas(t *testing.T) {
	const web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 2}\n"
	const retained = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {resourcetemplate.karmada.io/retain-replicas: \"true\"}}\nspec: {replicas: 2}\n"
	const notRetained = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {resourcetemplate.karmada.io/retain-replicas: \"false\"}}\nspec: {replicas: 2}\n"
	for _, tc := range []struct {
		name     string
		manifest string
		hpas     []*autoscalingv2.HorizontalPodAutoscaler
		want     bool
	}{
		{"no autoscaler", web, nil, true},
		{"an HPA scales it", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "apps/v1", "Deployment", "web")}, false},
		{"an HPA names another version of its group", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "apps/v1beta2", "Deployment", "web")}, false},
		{"an HPA of another namespace", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("bank", "apps/v1", "Deployment", "web")}, true},
		{"an HPA of another name", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "apps/v1", "Deployment", "api")}, true},
		{"an HPA of another kind", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "apps/v1", "StatefulSet", "web")}, true},
		{"an HPA of another group", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "example.com/v1", "Deployment", "web")}, true},
		{"an HPA with a bad apiVersion", web, []*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "a/b/c", "Deployment", "web")}, true},
		{"Karmada's retain-replicas label", retained, nil, false},
		{"retain-replicas other than true", notRetained, nil, true},
		{"no replicas to set", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web, namespace: shop}\n", nil, false},
		{"a custom resource an HPA scales", "apiVersion: example.com/v1\nkind: Pool\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 3}\n",
			[]*autoscalingv2.HorizontalPodAutoscaler{hpa("shop", "example.com/v1", "Pool", "web")}, false},
	} {
		if got := OwnsReplicas(object(t, tc.manifest), tc.hpas); got != tc.want {
			t.Errorf("%s: OwnsReplicas = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAppliesReplicas(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, FieldsV1: metav1.NewFieldsV1(fields)}
	}
	const replicas = `{"f:metadata":{"f:labels":{}},"f:spec":{"f:replicas":{},"f:template":{}}}`
	const noReplicas = `{"f:spec":{"f:template":{}}}`
	for _, tc := range []struct {
		name   string
		fields []metav1.ManagedFieldsEntry
		want   bool
	}{
		{"Atoll's apply owns it", []metav1.ManagedFieldsEntry{entry("atoll", metav1.ManagedFieldsOperationApply, "", replicas)}, true},
		{"Atoll's apply owns the rest", []metav1.ManagedFieldsEntry{entry("atoll", metav1.ManagedFieldsOperationApply, "", noReplicas),
			entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "scale", replicas)}, false},
		{"Atoll's create (an update) owns it", []metav1.ManagedFieldsEntry{entry("atoll", metav1.ManagedFieldsOperationUpdate, "", replicas)}, false},
		{"another applier owns it", []metav1.ManagedFieldsEntry{entry("atoll-handover", metav1.ManagedFieldsOperationApply, "", replicas)}, false},
		{"Atoll's apply of a subresource", []metav1.ManagedFieldsEntry{entry("atoll", metav1.ManagedFieldsOperationApply, "status", replicas)}, false},
		{"unreadable fields", []metav1.ManagedFieldsEntry{entry("atoll", metav1.ManagedFieldsOperationApply, "", "{")}, false},
		{"no managed fields", nil, false},
	} {
		if got := appliesReplicas(tc.fields, "atoll"); got != tc.want {
			t.Errorf("%s: appliesReplicas = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithoutReplicas(t *testing.T) {
	w := Workload{Namespace: "shop", Name: "web", Replicas: 5, Change: "c1",
		Template: []byte("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 1, template: {}}\n")}
	render := func(w Workload, replicas int) *unstructured.Unstructured {
		u, err := NewTemplates().Render(w, nil, replicas)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	two, three := render(w, 2), render(w, 3)
	if two.GetAnnotations()[AnnotationRendered] == three.GetAnnotations()[AnnotationRendered] {
		t.Fatal("2 and 3 replicas rendered with the same hash")
	}
	a, err := withoutReplicas(two)
	if err != nil {
		t.Fatal(err)
	}
	b, err := withoutReplicas(three)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(a.Object, "spec", "replicas"); ok {
		t.Errorf("spec.replicas still in %v", a.Object)
	}
	if n, _, _ := unstructured.NestedInt64(two.Object, "spec", "replicas"); n != 2 {
		t.Errorf("withoutReplicas changed its argument: replicas %d, want 2", n)
	}
	// Without replicas, a new share is no change to apply; the hash differs from the
	// object with replicas, so the object is applied again when an autoscaler comes or goes.
	ha, hb := a.GetAnnotations()[AnnotationRendered], b.GetAnnotations()[AnnotationRendered]
	if ha != hb || ha == two.GetAnnotations()[AnnotationRendered] {
		t.Errorf("hashes without replicas %s and %s, with 2 replicas %s: want the first two equal, the third different", ha, hb, two.GetAnnotations()[AnnotationRendered])
	}
	// The hash does not depend on the change that wrote the workload.
	w.Change = "c2"
	if c, _ := withoutReplicas(render(w, 2)); c.GetAnnotations()[AnnotationRendered] != ha || c.GetAnnotations()[AnnotationChange] != "c2" {
		t.Errorf("another change: annotations %v, want the hash %s and change c2", c.GetAnnotations(), ha)
	}
}
