package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const hpaTemplate = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
`

// TestRenderDividesAutoscaler: a propagated HPA's bounds in each cluster are in
// proportion to the cluster's share of the workload it scales.
func TestRenderDividesAutoscaler(t *testing.T) {
	for _, tc := range []struct {
		template      string
		share, total  int
		wantMin, want int64
	}{
		{hpaTemplate, 3, 6, 1, 5},
		{hpaTemplate, 6, 6, 2, 10},
		{hpaTemplate, 1, 6, 1, 2},
		{hpaTemplate, 4, 6, 1, 7},
		{strings.Replace(hpaTemplate, "  minReplicas: 2\n", "", 1), 5, 10, 1, 5}, // the default minimum, 1
		{strings.Replace(hpaTemplate, "maxReplicas: 10", "maxReplicas: 2", 1), 1, 6, 1, 1},
	} {
		u, err := NewTemplates().Render(Workload{Namespace: "shop", Name: "horizontalpodautoscaler.web", Template: []byte(tc.template), Replicas: -1, ScaleOf: tc.total}, nil, tc.share)
		if err != nil {
			t.Fatal(err)
		}
		lo, _, _ := unstructured.NestedInt64(u.Object, "spec", "minReplicas")
		hi, _, _ := unstructured.NestedInt64(u.Object, "spec", "maxReplicas")
		if lo != tc.wantMin || hi != tc.want {
			t.Errorf("share %d of %d: min %d max %d, want %d and %d", tc.share, tc.total, lo, hi, tc.wantMin, tc.want)
		}
	}
	// Applied as written without a total; refused with no maxReplicas or a share above
	// the total.
	u, err := NewTemplates().Render(Workload{Namespace: "shop", Name: "horizontalpodautoscaler.web", Template: []byte(hpaTemplate), Replicas: -1}, nil, 1)
	if hi, _, _ := whole(u, "maxReplicas"); err != nil || hi != 10 {
		t.Errorf("without ScaleOf: max %d, %v", hi, err)
	}
	for _, bad := range []struct {
		template     string
		share, total int
		want         string
	}{
		{strings.Replace(hpaTemplate, "  maxReplicas: 10\n", "", 1), 1, 2, "spec.maxReplicas must be"},
		{hpaTemplate, 3, 2, "a share of 3 replicas out of 2"},
	} {
		_, err := NewTemplates().Render(Workload{Namespace: "shop", Name: "h", Template: []byte(bad.template), Replicas: -1, ScaleOf: bad.total}, nil, bad.share)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v", bad.want, err)
		}
	}
}
