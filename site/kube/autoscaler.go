package kube

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// divideAutoscaler gives a HorizontalPodAutoscaler in one cluster the part of its bounds
// that the cluster's share of the scaled workload's replicas (share of total) asks for:
// minReplicas and maxReplicas in proportion, rounded, at least 1 and max at least min.
// The sum over the clusters stays close to the bounds as written; what an autoscaler
// sets in each cluster is kept there (OwnsReplicas), so the federation's count is the
// clusters' sum.
func divideAutoscaler(u *unstructured.Unstructured, share, total int) error {
	if share < 0 || total <= 0 || share > total {
		return fmt.Errorf("autoscaler: a share of %d replicas out of %d", share, total)
	}
	maxR, found, ok := whole(u, "maxReplicas")
	if !found || !ok || maxR < 1 {
		return fmt.Errorf("autoscaler: spec.maxReplicas must be a whole number of at least 1")
	}
	minR, found, ok := whole(u, "minReplicas")
	switch {
	case !found:
		minR = 1 // the API server's default
	case !ok || minR < 1:
		return fmt.Errorf("autoscaler: spec.minReplicas must be a whole number of at least 1")
	}
	part := func(n int64) int64 {
		return max(1, int64(math.Round(float64(n)*float64(share)/float64(total))))
	}
	lo := part(minR)
	hi := max(lo, part(maxR))
	if err := unstructured.SetNestedField(u.Object, lo, "spec", "minReplicas"); err != nil {
		return err
	}
	return unstructured.SetNestedField(u.Object, hi, "spec", "maxReplicas")
}

// whole reads spec.<field> as a whole number below 2^31 (a template's numbers decode as
// float64 or int64).
func whole(u *unstructured.Unstructured, field string) (n int64, found, ok bool) {
	v, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", field)
	switch x := v.(type) {
	case int64:
		n, ok = x, true
	case float64:
		n, ok = int64(x), x == math.Trunc(x) && math.Abs(x) < 1<<31
	}
	return n, found, ok && n < 1<<31
}
