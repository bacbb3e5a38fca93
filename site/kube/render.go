package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/crdt"
	"atoll/policy"
	"atoll/scheduler"
)

// Labels and annotations Atoll puts on what it creates in a member cluster. Pruning
// touches only objects carrying LabelManaged.
const (
	LabelManaged       = "atoll.io/managed-by"
	LabelWorkload      = "atoll.io/workload" // <namespace>.<name>, or <name> of a cluster-scoped template
	AnnotationChange   = "atoll.io/change"   // the change that last wrote the workload
	AnnotationRendered = "atoll.io/rendered" // hash of the applied object, to skip no-op applies
	// AnnotationAdopt asks that an object of the name Atoll did not create be adopted
	// (conflictResolution: Overwrite), where the site's admission allows it.
	AnnotationAdopt = "atoll.io/adopt"
	// AnnotationKarmadaConflict is Karmada's template annotation for the same request
	// ("overwrite").
	AnnotationKarmadaConflict = "work.karmada.io/conflict-resolution"
	FieldManager              = "atoll"
)

// Workload is a workload as the replicated state holds it, for rendering.
type Workload struct {
	Namespace, Name string
	APIVersion      string // as the workload's header says; "" if it does not
	Kind            string // as the workload's header says; "" if it does not
	Template        []byte // the manifest (YAML or JSON); nil if this site may not hold it
	Replicas        int    // desired replicas across the federation; -1 if not set
	Bound           []string
	Overrides       []byte // JSON list of policy.Rule; may be nil
	Change          string // id of the newest change to the workload
	// Adopt is the winning policy's conflictResolution: Overwrite (Render marks the
	// object with AnnotationAdopt).
	Adopt bool
	// ScaleOf is, for a HorizontalPodAutoscaler, the federation's replicas of the workload
	// it scales: Render divides its minReplicas and maxReplicas by the share of them the
	// cluster runs (the replicas it is given). 0: applied as written.
	ScaleOf int
	// Format is the format level of the charter in force (crdt.Charter.Format): from
	// crdt.FormatJobs a Job's replicas, its spec.parallelism, are divided.
	Format int
	// Revise sets a cluster's share of replicas in an object of a kind a stored
	// resource-interpreter customization divides (its replicaRevision, run in the
	// interpret sandbox); nil for the kinds Atoll divides itself, and others.
	Revise func(obj map[string]any, replicas int64) (map[string]any, error)
	// Completions is, for a Job divided among clusters, the spec.completions of the
	// cluster rendered (scheduler.Completions); 0: the template's.
	Completions int
}

// ClusterScoped reports whether the workload is a cluster-scoped template (its key is
// "/<name>": a Namespace, CRD, ClusterRole... granted by the charter, run where a site's
// admission.clusterKinds allows).
func (w Workload) ClusterScoped() bool { return w.Namespace == "" }

// Label is the value of LabelWorkload on what Atoll renders for w.
func (w Workload) Label() string {
	if w.ClusterScoped() {
		return w.Name
	}
	return w.Namespace + "." + w.Name
}

// replicaKinds are the kinds whose spec.replicas Atoll divides.
var replicaKinds = []string{"Deployment", "StatefulSet", "ReplicaSet"}

// Divides reports whether a workload's replicas are divided among sites and clusters:
// spec.replicas of the replicaKinds, a Job's spec.parallelism from format level
// crdt.FormatJobs (Karmada's interpreter reads a Job's replicas there too), and what
// Revise sets for a custom kind.
func (w Workload) Divides(kind string) bool {
	return w.Replicas >= 0 && (slices.Contains(replicaKinds, kind) || kind == "Job" && w.Format >= crdt.FormatJobs || w.Revise != nil)
}

// replicasField is the field of kind that holds the replicas Atoll divides.
func replicasField(kind string) string {
	if kind == "Job" {
		return "parallelism"
	}
	return "replicas"
}

// Render builds the object to apply in one cluster (check it with Admitter.Admit before
// applying it): the template with its namespace,
// Atoll's labels and annotations, the cluster's share of replicas, then the override
// rules that select the cluster (so an override of /spec/replicas sets that cluster's
// replicas).
func (t *Templates) Render(w Workload, c *scheduler.Cluster, replicas int) (*unstructured.Unstructured, error) {
	if w.Template == nil {
		return nil, fmt.Errorf("workload %s/%s: no template at this site", w.Namespace, w.Name)
	}
	m, err := t.parse(w.Template)
	if err != nil {
		return nil, fmt.Errorf("workload %s/%s: template: %w", w.Namespace, w.Name, err)
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return nil, fmt.Errorf("workload %s/%s: template has no apiVersion or kind", w.Namespace, w.Name)
	}
	if u.GetName() == "" {
		u.SetName(w.Name)
	}
	if u.GetNamespace() == "" && w.Namespace != "" {
		u.SetNamespace(w.Namespace) // a different one is refused by Admit
	}
	// What the member cluster sets is not the template's to say.
	for _, f := range []string{"uid", "resourceVersion", "managedFields", "creationTimestamp", "deletionTimestamp", "generation", "selfLink"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	delete(u.Object, "status")
	lbl := u.GetLabels()
	if lbl == nil {
		lbl = map[string]string{}
	}
	lbl[LabelManaged], lbl[LabelWorkload] = "atoll", w.Label()
	u.SetLabels(lbl)
	if ann := u.GetAnnotations(); w.Adopt || ann[AnnotationKarmadaConflict] == "overwrite" {
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationAdopt] = "true"
		u.SetAnnotations(ann)
	} else if _, ok := ann[AnnotationAdopt]; ok {
		delete(ann, AnnotationAdopt) // only a policy or Karmada's annotation asks for it
		u.SetAnnotations(ann)
	}
	if w.Divides(u.GetKind()) && w.Revise != nil && !slices.Contains(replicaKinds, u.GetKind()) && u.GetKind() != "Job" {
		obj, err := w.Revise(u.Object, int64(replicas))
		if err != nil {
			return nil, fmt.Errorf("workload %s/%s: replicaRevision: %w", w.Namespace, w.Name, err)
		}
		u.Object = obj
		l := u.GetLabels() // what the script returns is the object; Atoll's labels stay Atoll's
		if l == nil {
			l = map[string]string{}
		}
		l[LabelManaged], l[LabelWorkload] = "atoll", w.Label()
		u.SetLabels(l)
	} else if w.Divides(u.GetKind()) {
		if err := unstructured.SetNestedField(u.Object, int64(replicas), "spec", replicasField(u.GetKind())); err != nil {
			return nil, err
		}
		if u.GetKind() == "Job" && w.Completions > 0 {
			if err := unstructured.SetNestedField(u.Object, int64(w.Completions), "spec", "completions"); err != nil {
				return nil, err
			}
		}
	}
	if u.GetKind() == "HorizontalPodAutoscaler" && w.ScaleOf > 0 {
		if err := divideAutoscaler(u, replicas, w.ScaleOf); err != nil {
			return nil, fmt.Errorf("workload %s/%s: %w", w.Namespace, w.Name, err)
		}
	}
	if len(w.Overrides) > 0 {
		var rules []policy.Rule
		if err := json.Unmarshal(w.Overrides, &rules); err != nil {
			return nil, fmt.Errorf("workload %s/%s: overrides: %w", w.Namespace, w.Name, err)
		}
		if err := policy.Apply(u, rules, c); err != nil {
			return nil, fmt.Errorf("workload %s/%s: %w", w.Namespace, w.Name, err)
		}
	}
	sum, err := renderedHash(u)
	if err != nil {
		return nil, err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationChange], ann[AnnotationRendered] = w.Change, sum
	u.SetAnnotations(ann)
	return u, nil
}

// renderedHash is what AnnotationRendered holds: a hash of u without Atoll's own
// annotations (an annotations map left empty by their removal is left out too), so that
// an object whose content is unchanged is not applied again.
func renderedHash(u *unstructured.Unstructured) (string, error) {
	obj := u.Object
	if ann := u.GetAnnotations(); has(ann, AnnotationChange) || has(ann, AnnotationRendered) {
		c := u.DeepCopy()
		delete(ann, AnnotationChange)
		delete(ann, AnnotationRendered)
		if len(ann) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
		} else {
			c.SetAnnotations(ann)
		}
		obj = c.Object
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// ParseReplicas reads the replicas field, -1 when absent: base-10 digits, at most limit
// (the charter's crdt.Charter.MaxReplicas). crdt refuses any other value in a new
// change, but the data file of an earlier release may hold one; the error names the
// value and the limit.
func ParseReplicas(s string, present bool, limit int) (int, error) {
	if !present {
		return -1, nil
	}
	return crdt.ParseReplicas(s, limit)
}
