package policy

import (
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/scheduler"
)

// The Karmada policy kinds Atoll reads, all of policy.karmada.io/v1alpha1.
const (
	karmadaAPIVersion = "policy.karmada.io/v1alpha1"
	karmadaGroup      = "policy.karmada.io"

	kindPropagationPolicy        = "PropagationPolicy"
	kindClusterPropagationPolicy = "ClusterPropagationPolicy"
	kindOverridePolicy           = "OverridePolicy"
	kindClusterOverridePolicy    = "ClusterOverridePolicy"
)

// objectMeta is the part of ObjectMeta a policy may carry.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Set by an API server on a stored copy (kubectl get -o yaml); they state no intent
	// and are accepted so that such a copy applies unchanged.
	UID               json.RawMessage `json:"uid,omitempty"`
	ResourceVersion   json.RawMessage `json:"resourceVersion,omitempty"`
	Generation        json.RawMessage `json:"generation,omitempty"`
	CreationTimestamp json.RawMessage `json:"creationTimestamp,omitempty"`
	ManagedFields     json.RawMessage `json:"managedFields,omitempty"`
}

// resourceSelector is Karmada's ResourceSelector.
type resourceSelector struct {
	APIVersion    string                `json:"apiVersion"`
	Kind          string                `json:"kind"`
	Namespace     string                `json:"namespace,omitempty"`
	Name          string                `json:"name,omitempty"`
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// propagationDoc is a (Cluster)PropagationPolicy, the fields Atoll implements.
type propagationDoc struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		ResourceSelectors []resourceSelector  `json:"resourceSelectors"`
		Placement         scheduler.Placement `json:"placement"`
		Priority          *int32              `json:"priority,omitempty"`
		PropagateDeps     bool                `json:"propagateDeps,omitempty"`
		// ConflictResolution is Abort (the default: an object Atoll did not create is
		// left alone) or Overwrite (it is adopted, where the site allows it).
		ConflictResolution string `json:"conflictResolution,omitempty"`
		// Failover is application failover, from format level FailoverLevel.
		Failover *scheduler.Failover `json:"failover,omitempty"`
	} `json:"spec"`
}

// overrideDoc is a (Cluster)OverridePolicy, the fields Atoll implements.
type overrideDoc struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		ResourceSelectors []resourceSelector `json:"resourceSelectors,omitempty"`
		OverrideRules     []ruleDoc          `json:"overrideRules,omitempty"`
		// The form before overrideRules: one rule.
		TargetCluster *scheduler.ClusterAffinity `json:"targetCluster,omitempty"`
		Overriders    *Overriders                `json:"overriders,omitempty"`
	} `json:"spec"`
}

// ruleDoc is Karmada's RuleWithCluster as written in a policy.
type ruleDoc struct {
	TargetCluster *scheduler.ClusterAffinity `json:"targetCluster,omitempty"`
	Overriders    Overriders                 `json:"overriders"`
}

// metaUnsupported are ObjectMeta fields that state an intent Atoll does not carry out.
var metaUnsupported = unsupported{
	"metadata.generateName":               nil,
	"metadata.finalizers":                 {[]any{}},
	"metadata.ownerReferences":            {[]any{}},
	"metadata.deletionTimestamp":          nil,
	"metadata.deletionGracePeriodSeconds": nil,
	"metadata.selfLink":                   nil,
}

// propagationUnsupported are the PropagationSpec fields Atoll does not implement, with
// the values that leave them off.
var propagationUnsupported = with(metaUnsupported, unsupported{
	"spec.association":                            {false},
	"spec.preemption":                             {"Never"},
	"spec.dependentOverrides":                     {[]any{}},
	"spec.schedulerName":                          {"default-scheduler"},
	"spec.failover.cluster":                       nil,
	"spec.failover.application.statePreservation": nil,
	"spec.activationPreference":                   {""},
	"spec.suspension":                             nil,
	"spec.preserveResourcesOnDeletion":            {false},
	"spec.schedulePriority":                       nil,
})

// overrideUnsupported are the OverrideSpec fields Atoll does not implement.
var overrideUnsupported = with(metaUnsupported, unsupported{
	"spec.overrideRules[].overriders.fieldOverrider": {[]any{}},
	"spec.overriders.fieldOverrider":                 {[]any{}},
})

func with(a, b unsupported) unsupported {
	out := unsupported{}
	for _, m := range []unsupported{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// karmadaPolicy is one decoded Karmada policy.
type karmadaPolicy struct {
	obj       *Object
	kind      string
	namespace string // "" for the cluster-scoped kinds
	name      string
	selectors []resourceSelector
	priority  int32

	policy scheduler.Policy // propagation policies
	bound  []string         // propagation policies: atoll.io/bound
	deps   bool             // propagation policies: propagateDeps
	adopt  bool             // propagation policies: conflictResolution Overwrite
	rules  []Rule           // override policies

	matched int    // manifests its selectors match
	won     int    // manifests it places (propagation policies)
	lostTo  string // a policy that won over it
}

func (p *karmadaPolicy) cluster() bool {
	return p.kind == kindClusterPropagationPolicy || p.kind == kindClusterOverridePolicy
}

func (p *karmadaPolicy) propagation() bool {
	return p.kind == kindPropagationPolicy || p.kind == kindClusterPropagationPolicy
}

func (p *karmadaPolicy) String() string {
	if p.cluster() {
		return p.kind + " " + p.name
	}
	return p.kind + " " + p.namespace + "/" + p.name
}

// ident reads an object's namespace and name as best it can, for messages about an
// object that may not decode.
func ident(m map[string]any) (ns, name string) {
	meta, _ := m["metadata"].(map[string]any)
	ns, _ = meta["namespace"].(string)
	name, _ = meta["name"].(string)
	return ns, name
}

// groupOf returns the API group of an apiVersion ("" for the core group).
func groupOf(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}
