package kube

import (
	"encoding/json"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LabelRetainReplicas is Karmada's label for a template whose replicas each member
// cluster keeps ("true"; any other value keeps nothing): Atoll then leaves spec.replicas
// of an object that exists in the cluster to the cluster, as Karmada does.
const LabelRetainReplicas = "resourcetemplate.karmada.io/retain-replicas"

// FieldManagerHandover is the field manager that holds spec.replicas of an object while
// Atoll lets go of it (Applier.handOver), until the cluster's own scaler writes it.
const FieldManagerHandover = "atoll-handover"

// OwnsReplicas reports whether Atoll sets spec.replicas of u, the object rendered for a
// member cluster, given the HorizontalPodAutoscalers of that cluster (those of other
// namespaces are ignored). It does not when u sets no spec.replicas, when u carries
// LabelRetainReplicas "true", or when an HPA of u's namespace scales u: its
// scaleTargetRef names u's kind and name, and an apiVersion of u's group (any version:
// apps/v1 and apps/v1beta2 name the same Deployments). The cluster's count is then kept.
func OwnsReplicas(u *unstructured.Unstructured, hpas []*autoscalingv2.HorizontalPodAutoscaler) bool {
	if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas"); !ok {
		return false
	}
	if u.GetLabels()[LabelRetainReplicas] == "true" {
		return false
	}
	group := u.GroupVersionKind().Group
	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		if h.Namespace != u.GetNamespace() || ref.Kind != u.GetKind() || ref.Name != u.GetName() {
			continue
		}
		if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil && gv.Group == group {
			return false
		}
	}
	return true
}

// appliesReplicas reports whether manager's server-side apply owns spec.replicas of the
// object whose managed fields are fields: if its next apply leaves the field out and no
// other manager owns it, the API server removes it, and the field's default (1 for a
// Deployment) replaces the cluster's count.
func appliesReplicas(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager != manager || f.Operation != metav1.ManagedFieldsOperationApply || f.Subresource != "" || f.FieldsV1 == nil {
			continue
		}
		var set struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(f.FieldsV1.GetRawBytes(), &set) == nil && set.Spec["f:replicas"] != nil {
			return true
		}
	}
	return false
}

// withoutReplicas returns a copy of u without spec.replicas, its AnnotationRendered
// computed again (the object applied differs from the one rendered).
func withoutReplicas(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u = u.DeepCopy()
	unstructured.RemoveNestedField(u.Object, "spec", "replicas")
	return u, rehash(u)
}

// rehash sets u's AnnotationRendered to the hash of u as it is now: an object Apply
// changed from the one rendered.
func rehash(u *unstructured.Unstructured) error {
	sum, err := renderedHash(u)
	if err != nil {
		return err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationRendered] = sum
	u.SetAnnotations(ann)
	return nil
}
