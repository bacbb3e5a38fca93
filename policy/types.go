package policy

import (
	"encoding/json"
	"slices"
	"strings"

	"atoll/scheduler"
)

// Workload is one manifest of an apply, with the placement and overrides its policies
// give it.
type Workload struct {
	Namespace, Name  string // the object's; the namespace defaults to "default"
	Key              string // the workload's key in Atoll: <namespace>/<WorkloadName(kind, name)>
	APIVersion, Kind string
	// Replicas is spec.replicas of a Deployment, StatefulSet or ReplicaSet, or
	// spec.parallelism of a Job (1 when absent), or -1 for kinds without replicas.
	Replicas int
	Template []byte           // the manifest as JSON, status dropped
	Policy   scheduler.Policy // from the winning (Cluster)PropagationPolicy; zero if none
	// Overrides are the rules of every matching (Cluster)OverridePolicy, in the order
	// they apply (see Apply).
	Overrides []Rule
	Bound     []string // jurisdictions it may run in, sorted; empty: anywhere
	Source    string   // where the manifest was read: "file.yaml:12"
	// Labels are the manifest's, which policies' labelSelectors match.
	Labels map[string]string
	// PlacedBy names the apply's policy that places it; "" if none of the apply's does.
	PlacedBy string
}

// Rule is one override rule, Karmada's RuleWithCluster: overriders for the clusters its
// target selects. Atoll stores a workload's rules as JSON in its "overrides" field.
type Rule struct {
	// TargetCluster selects the clusters the rule applies to; nil selects all.
	TargetCluster *scheduler.ClusterAffinity `json:"targetCluster,omitempty"`
	Overriders    Overriders                 `json:"overriders"`
	// Source names the policy and rule, for messages: "OverridePolicy shop/op
	// overrideRules[1]". Not a Karmada field.
	Source string `json:"source,omitempty"`
}

// Overriders are Karmada's overriders, and Atoll's EnvOverrider. Within a rule they apply
// in the order image, command, args, labels, annotations, env, plaintext.
type Overriders struct {
	Plaintext            []PlaintextOverrider       `json:"plaintext,omitempty"`
	ImageOverrider       []ImageOverrider           `json:"imageOverrider,omitempty"`
	CommandOverrider     []CommandArgsOverrider     `json:"commandOverrider,omitempty"`
	ArgsOverrider        []CommandArgsOverrider     `json:"argsOverrider,omitempty"`
	LabelsOverrider      []LabelAnnotationOverrider `json:"labelsOverrider,omitempty"`
	AnnotationsOverrider []LabelAnnotationOverrider `json:"annotationsOverrider,omitempty"`
	// EnvOverrider is Atoll's: Karmada has none.
	EnvOverrider []EnvOverrider `json:"envOverrider,omitempty"`
}

// PlaintextOverrider is one JSON patch operation: add, remove or replace the value at
// Path (a JSON pointer, RFC 6901).
type PlaintextOverrider struct {
	Path     string          `json:"path"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value,omitempty"` // required for add and replace; none for remove
}

// ImageOverrider changes one component (Registry, Repository or Tag) of container images
// of the form [registry/]repository[:tag|@digest]: add appends Value to it, replace sets
// it, remove clears it.
type ImageOverrider struct {
	// Predicate selects one image by its path; nil selects every container's image of a
	// Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob.
	Predicate *ImagePredicate `json:"predicate,omitempty"`
	Component string          `json:"component"` // Registry, Repository or Tag
	Operator  string          `json:"operator"`  // add, remove or replace
	Value     string          `json:"value,omitempty"`
}

// ImagePredicate selects the image at Path, such as "/spec/template/spec/containers/0/image".
type ImagePredicate struct {
	Path string `json:"path"`
}

// CommandArgsOverrider edits the command or args of the named container: add appends
// Value, remove deletes every item equal to one in Value.
type CommandArgsOverrider struct {
	ContainerName string   `json:"containerName"`
	Operator      string   `json:"operator"` // add or remove
	Value         []string `json:"value,omitempty"`
}

// LabelAnnotationOverrider edits metadata.labels or metadata.annotations: add sets each
// key, replace sets the keys already present, remove deletes the keys present.
type LabelAnnotationOverrider struct {
	Operator string            `json:"operator"` // add, remove or replace
	Value    map[string]string `json:"value,omitempty"`
}

// EnvOverrider edits the env of the named container, by variable name, with the
// semantics of LabelAnnotationOverrider: add sets each variable (appended when new),
// replace sets the variables already present, remove deletes the ones present. Setting
// a variable drops its valueFrom. Atoll's extension: Karmada has no env overrider.
type EnvOverrider struct {
	ContainerName string   `json:"containerName"`
	Operator      string   `json:"operator"` // add, remove or replace
	Value         []EnvVar `json:"value,omitempty"`
}

// EnvVar is a container environment variable with a literal value.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Operators of the overriders.
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
)

// Image components.
const (
	Registry   = "Registry"
	Repository = "Repository"
	Tag        = "Tag"
)

// ObjectName is the name of the object of a workload named wname: the inverse of
// WorkloadName.
func ObjectName(kind, wname string) string {
	if slices.Contains(workloadKinds, kind) {
		return wname
	}
	return strings.TrimPrefix(wname, strings.ToLower(kind)+".")
}

// workloadKinds are the kinds whose workloads Atoll names after the object alone.
var workloadKinds = []string{"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod"}

// WorkloadName is the name of an object's workload in Atoll: the object's name for the
// workload kinds, and "<kind>.<name>" (kind in lower case) for the others, so that a
// Deployment and a Service both called web are two workloads, web and service.web.
func WorkloadName(kind, name string) string {
	if slices.Contains(workloadKinds, kind) {
		return name
	}
	return strings.ToLower(kind) + "." + name
}
