package kube

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// keepCompletions returns u, a Job to apply over cur (the cluster's Job of its name),
// with cur's spec.completions where u's differ: the API server refuses to change a Job's
// completions once it is created, and applying them anyway would fail every pass. So a
// Job whose share of a divided Job changes after it was created keeps its completions
// (its parallelism, which may change, follows the share), and the clusters' completions
// may then sum to more or less than the template's until it is created anew (deleted
// where its share went to 0, or deleted by hand). Any other object is u itself.
func keepCompletions(cur, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if u.GetKind() != "Job" || u.GroupVersionKind().Group != "batch" {
		return u, nil
	}
	have, ok, _ := unstructured.NestedInt64(cur.Object, "spec", "completions")
	if !ok {
		return u, nil
	}
	if want, found, ok := whole(u, "completions"); found && ok && want == have {
		return u, nil
	}
	u = u.DeepCopy()
	if err := unstructured.SetNestedField(u.Object, have, "spec", "completions"); err != nil {
		return nil, err
	}
	return u, rehash(u)
}
