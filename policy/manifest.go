package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// manifest is one object of an apply that is not a policy: a workload to place.
type manifest struct {
	Target
	obj           *Object
	bound         []string // from its atoll.io/bound annotation
	clusterScoped bool     // Namespace "": a cluster-scoped template (format level 3)
}

func (m *manifest) String() string {
	if m.clusterScoped {
		return m.Kind + " " + m.Name
	}
	return m.Kind + " " + m.Namespace + "/" + m.Name
}

// replicaKinds are the kinds, of groups apps and extensions, whose spec.replicas Atoll
// divides among clusters.
var replicaKinds = []string{"Deployment", "StatefulSet", "ReplicaSet"}

// newManifest reads a manifest's identity, labels and Atoll annotations.
func newManifest(o *Object, apiVersion, kind string) (*manifest, []error) {
	m := &manifest{obj: o, Target: Target{APIVersion: apiVersion, Kind: kind, Namespace: "default"}}
	meta, ok := o.Map["metadata"].(map[string]any)
	if !ok {
		return m, []error{errAt(fieldPath{"metadata"}, "required: an object with a name")}
	}
	var errs []error
	str := func(k string) string {
		v, ok := meta[k].(string)
		if !ok && meta[k] != nil {
			errs = append(errs, errAt(fieldPath{"metadata", k}, "expected a string, found %s", kindOf(meta[k])))
		}
		return v
	}
	m.Name = str("name")
	if ns := str("namespace"); ns != "" {
		m.Namespace = ns
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, errAt(fieldPath{"metadata", "namespace"}, "%q: %s", ns, msg))
		}
	}
	switch {
	case m.Name == "" && meta["generateName"] != nil:
		errs = append(errs, errAt(fieldPath{"metadata", "generateName"}, "not supported by Atoll: a workload needs a name"))
	case m.Name == "":
		errs = append(errs, errAt(fieldPath{"metadata", "name"}, "required"))
	default:
		for _, msg := range content.IsPathSegmentName(m.Name) {
			errs = append(errs, errAt(fieldPath{"metadata", "name"}, "%q: %s", m.Name, msg))
		}
	}
	var lerrs, aerrs []error
	m.Labels, lerrs = stringMap(meta, "labels")
	ann, aerrs := stringMap(meta, "annotations")
	errs = append(append(errs, lerrs...), aerrs...)
	a, aerrs := readAnnotations(ann, []string{AnnotationBound})
	m.bound = a.bound
	return m, append(errs, aerrs...)
}

// stringMap reads metadata.labels or metadata.annotations.
func stringMap(meta map[string]any, k string) (map[string]string, []error) {
	if meta[k] == nil {
		return nil, nil
	}
	at := fieldPath{"metadata", k}
	src, ok := meta[k].(map[string]any)
	if !ok {
		return nil, []error{errAt(at, "expected an object, found %s", kindOf(meta[k]))}
	}
	out := map[string]string{}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(src)) {
		s, ok := src[key].(string)
		if !ok {
			errs = append(errs, errAt(at.key(key), "expected a string, found %s", kindOf(src[key])))
		}
		out[key] = s
	}
	return out, errs
}

// replicas returns spec.replicas for the kinds Atoll divides (1 when absent), a Job's
// spec.parallelism (1 when absent, the API server's default), as Karmada's interpreter
// reads a Job's replicas, or -1.
func (m *manifest) replicas() (int, error) {
	field := "replicas"
	switch g := groupOf(m.APIVersion); {
	case g == "batch" && m.Kind == "Job":
		field = "parallelism"
	case (g != "apps" && g != "extensions") || !slices.Contains(replicaKinds, m.Kind):
		return -1, nil
	}
	spec, _ := m.obj.Map["spec"].(map[string]any)
	v, ok := spec[field]
	if !ok || v == nil {
		return 1, nil
	}
	n, ok := v.(int64)
	if !ok || n < 0 || n > 1<<31-1 {
		return 0, errAt(fieldPath{"spec", field}, "%v: want a non-negative integer", v)
	}
	return int(n), nil
}

// completionMode returns a Job's spec.completionMode ("" if it has none).
func (m *manifest) completionMode() string {
	spec, _ := m.obj.Map["spec"].(map[string]any)
	s, _ := spec["completionMode"].(string)
	return s
}

// body is the manifest without its status: what Atoll stores and renders.
func (m *manifest) body() map[string]any {
	t := maps.Clone(m.obj.Map)
	delete(t, "status")
	return t
}

// template returns the body as JSON.
func (m *manifest) template() ([]byte, error) {
	b, err := json.Marshal(m.body())
	if err != nil {
		return nil, fmt.Errorf("encode as JSON: %w", err)
	}
	return b, nil
}
