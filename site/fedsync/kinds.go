package fedsync

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"atoll/crdt"
	"atoll/policy"
)

// kind is one kind the controller keeps in sync between the API server and the state.
type kind struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	policy     bool // a Karmada policy (crdt kind policy); else a template (crdt kind workload)
}

func (k kind) apiVersion() string { return k.gvr.GroupVersion().String() }

// kinds are the kinds synced: the templates Atoll places, and Karmada's policies.
var kinds = []kind{
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", true, false},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet", true, false},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet", true, false},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job", true, false},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob", true, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap", true, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "Secret", true, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service", true, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "ServiceAccount", true, false},
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, "Ingress", true, false},
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, "NetworkPolicy", true, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "PersistentVolumeClaim", true, false},
	{schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, "HorizontalPodAutoscaler", true, false},
	{schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "PodDisruptionBudget", true, false},
	// Cluster-scoped templates: only an operator the charter grants cluster scope may
	// write them (grants.go). RBAC kinds are not served: in this API server they would
	// take effect, granting in the federation what they are meant to grant in member
	// clusters; atoll apply stores them. A CRD does take effect here, as in Karmada's
	// API server: that is what lets its custom resources be written.
	{schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, "CustomResourceDefinition", false, false},
	{schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, "PriorityClass", false, false},
	{schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}, "StorageClass", false, false},
	{schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "propagationpolicies"}, "PropagationPolicy", true, true},
	{schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "clusterpropagationpolicies"}, "ClusterPropagationPolicy", false, true},
	{schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "overridepolicies"}, "OverridePolicy", true, true},
	{schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "clusteroverridepolicies"}, "ClusterOverridePolicy", false, true},
}

// kindOf finds the built-in kind of an apiVersion and kind.
func kindOf(apiVersion, k string) (kind, bool) {
	for _, x := range kinds {
		if x.kind == k && x.apiVersion() == apiVersion {
			return x, true
		}
	}
	return kind{}, false
}

// item is one object of the API server: its kind, namespace and name.
type item struct {
	kind      kind
	namespace string
	name      string
}

func (it item) String() string {
	k := it.kind
	if !k.namespaced {
		return k.kind + " " + it.name
	}
	return k.kind + " " + it.namespace + "/" + it.name
}

// ref is the object of the state an item is stored as.
func (it item) ref() Ref {
	k := it.kind
	if k.policy {
		return Ref{Kind: crdt.KindPolicy, Key: crdt.PolicyKey(k.kind, it.namespace, it.name)}
	}
	return Ref{Kind: crdt.KindWorkload, Key: crdt.WorkloadKey(it.namespace, policy.WorkloadName(k.kind, it.name))}
}

// itemOf is the item an object of the state is projected as; ok is false for a kind the
// API server does not serve here (custom.go: a custom kind once its CRD is established).
func (c *Controller) itemOf(o Header) (item, bool) {
	if o.Ref.Kind == crdt.KindPolicy {
		pk, ns, ok := crdt.PolicyScope(o.Ref.Key)
		if !ok {
			return item{}, false
		}
		for _, k := range kinds {
			if k.policy && strings.ToLower(k.kind) == pk {
				return item{k, ns, o.Ref.Key[strings.LastIndexByte(o.Ref.Key, '/')+1:]}, true
			}
		}
		return item{}, false
	}
	k, ok := kindOf(o.APIVersion, o.Kind)
	if !ok {
		if k, ok = c.customKind(o.APIVersion, o.Kind); !ok {
			return item{}, false
		}
	}
	ns, wname, _ := strings.Cut(o.Ref.Key, "/")
	return item{k, ns, policy.ObjectName(o.Kind, wname)}, true
}

// systemNamespaces are the API server's own: nothing in them is synced.
var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// system reports whether an item is one the API server (or a cluster's controllers)
// makes for itself in every cluster: it is not the federation's, and is never synced.
func (it item) system() bool {
	k := it.kind.kind
	switch {
	case slices.Contains(systemNamespaces, it.namespace):
		return true
	case k == "Service" && it.namespace == "default" && it.name == "kubernetes":
		return true
	case k == "ConfigMap" && it.name == "kube-root-ca.crt", k == "ServiceAccount" && it.name == "default":
		return true
	case k == "PriorityClass" && strings.HasPrefix(it.name, "system-"): // system-cluster-critical, system-node-critical
		return true
	case k == "CustomResourceDefinition" && strings.HasSuffix(it.name, ".karmada.io"): // the API server's own (deploy/crds)
		return true
	}
	return false
}

// Annotations the controller reads and writes on the API server's objects.
const (
	// AnnotationChange is the change of the state an object was projected from.
	AnnotationChange = "atoll.io/change"
)

// serverFields are the metadata an API server sets: not the user's, not stored.
var serverFields = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
	"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// manifest is an API object as a user wrote it: without status, what the API server
// set in its metadata, and the controller's annotation. It is what policy reads.
func manifest(u *unstructured.Unstructured) ([]byte, error) {
	m := u.DeepCopy().Object
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		for _, f := range serverFields {
			delete(meta, f)
		}
		if ann, ok := meta["annotations"].(map[string]any); ok {
			delete(ann, AnnotationChange)
			if len(ann) == 0 {
				delete(meta, "annotations")
			}
		}
	}
	return json.Marshal(m)
}

// projection is the API object of a stored manifest (a template or a policy object),
// annotated with the change it comes from.
func projection(stored []byte, change string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(stored); err != nil {
		return nil, fmt.Errorf("stored manifest: %w", err)
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationChange] = change
	u.SetAnnotations(ann)
	return u, nil
}
