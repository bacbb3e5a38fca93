package kube

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestPrunable(t *testing.T) {
	const base = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n"
	const atoll = "  labels: {atoll.io/managed-by: atoll, atoll.io/workload: shop.web}\n"
	const rendered = "  annotations: {atoll.io/rendered: 0123456789abcdef}\n"
	for _, tc := range []struct {
		name, manifest string
		want           bool
	}{
		{"rendered by Atoll", base + atoll + rendered, true},
		{"a copy of Atoll's labels (Endpoints of a Service)", base + atoll, false},
		{"a namespace Atoll created", base + "  labels: {atoll.io/managed-by: atoll}\n" + rendered, false},
		{"another manager's label", base + "  labels: {atoll.io/managed-by: helm, atoll.io/workload: shop.web}\n" + rendered, false},
		{"owned by a controller (a Pod of a Job)", base + atoll + rendered + "  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: j, uid: u1}]\n", false},
		{"being deleted", base + atoll + rendered + "  deletionTimestamp: \"2026-12-01T00:00:00Z\"\n", false},
	} {
		if got := prunable(object(t, tc.manifest)); got != tc.want {
			t.Errorf("%s: prunable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPruneResources(t *testing.T) {
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Verbs: all},
			{Name: "pods/log", Namespaced: true, Verbs: []string{"get"}},
			{Name: "pods/status", Namespaced: true, Verbs: all},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "namespaces", Namespaced: false, Verbs: all},
			{Name: "nodes", Namespaced: false, Verbs: all},
		}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{{Name: "jobs", Namespaced: true, Verbs: all}}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{{Name: "readonly", Namespaced: true, Verbs: []string{"get", "list"}}}},
		{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{{Name: "broken", Namespaced: true, Verbs: all}}},
	}
	var got []string
	for _, gvr := range pruneResources(lists) {
		got = append(got, gvr.String())
	}
	want := []string{
		schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}.String(),
		schema.GroupVersionResource{Version: "v1", Resource: "nodes"}.String(), // cluster-scoped templates are swept too
		schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}.String(),
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("pruneResources = %v, want %v", got, want)
	}
}
