package migrate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"atoll/policy"
)

// Options say how to convert.
type Options struct {
	// Clusters maps each Karmada cluster name the policies use to Atoll's
	// "<site>/<cluster>".
	Clusters map[string]string
	// Adopt sets conflictResolution: Overwrite on every propagation policy.
	Adopt bool
}

// Result is what to apply, and what was left out.
type Result struct {
	// Docs are YAML documents: the policies, then the templates, in a stable order.
	Docs [][]byte
	// Policies and Templates count the documents of each.
	Policies, Templates int
	// Skipped names the templates left out because no policy selects them.
	Skipped []string
	// System counts the objects left out as the API server's own (kube-root-ca.crt,
	// default ServiceAccounts, tokens, system namespaces, objects with owners).
	System int
}

// policyKinds are the kinds of policies imported.
var policyKinds = []string{"PropagationPolicy", "ClusterPropagationPolicy", "OverridePolicy", "ClusterOverridePolicy"}

// Convert converts policies and templates (objects as an API server returns them).
func Convert(policies, templates []map[string]any, o Options) (Result, error) {
	var res Result
	var set []*policy.Policy
	var docs [][]byte
	for _, p := range sorted(policies) {
		kind, _ := p["kind"].(string)
		if !slices.Contains(policyKinds, kind) || apiVersion(p) != "policy.karmada.io/v1alpha1" {
			return res, fmt.Errorf("%s: not a Karmada policy", describe(p))
		}
		q := clean(p)
		delete(q, "status")
		if err := mapClusters(q, o.Clusters, describe(p)); err != nil {
			return res, err
		}
		if spec, ok := q["spec"].(map[string]any); ok && o.Adopt && strings.HasSuffix(kind, "PropagationPolicy") {
			spec["conflictResolution"] = "Overwrite"
		}
		b, err := json.Marshal(q)
		if err != nil {
			return res, err
		}
		decoded, err := policy.Decode(describe(p), b)
		if err != nil {
			return res, err
		}
		set = append(set, decoded)
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return res, err
		}
		docs = append(docs, y)
		res.Policies++
	}
	s := policy.NewSet(set)
	for _, t := range sorted(templates) {
		if system(t) != "" {
			res.System++
			continue
		}
		meta, _ := t["metadata"].(map[string]any)
		target := policy.Target{APIVersion: apiVersion(t), Kind: str(t, "kind"), Namespace: str(meta, "namespace"), Name: str(meta, "name")}
		if l, ok := meta["labels"].(map[string]any); ok {
			target.Labels = map[string]string{}
			for k, v := range l {
				target.Labels[k], _ = v.(string)
			}
		}
		if s.Resolve(target).PlacedBy == "" {
			res.Skipped = append(res.Skipped, describe(t))
			continue
		}
		q := clean(t)
		delete(q, "status")
		generated(q)
		y, err := yaml.Marshal(q)
		if err != nil {
			return res, err
		}
		docs = append(docs, y)
		res.Templates++
	}
	res.Docs = docs
	return res, nil
}

// karmadaPrefixes mark the labels and annotations Karmada's controllers add.
var karmadaPrefixes = []string{"karmada.io/", "propagationpolicy.karmada.io/", "clusterpropagationpolicy.karmada.io/",
	"resourcebinding.karmada.io/", "clusterresourcebinding.karmada.io/", "work.karmada.io/", "resourcetemplate.karmada.io/managed",
	"policy.karmada.io/applied-", "kubectl.kubernetes.io/last-applied-configuration"}

// clean copies an object with the metadata its author wrote: name, namespace, and its
// labels and annotations without those Karmada's controllers add (Karmada's own
// requests, like work.karmada.io/conflict-resolution, are the author's and kept).
func clean(o map[string]any) map[string]any {
	var q map[string]any
	b, _ := json.Marshal(o) // a deep copy: the caller's object is not changed
	_ = json.Unmarshal(b, &q)
	meta, _ := o["metadata"].(map[string]any)
	m := map[string]any{}
	for _, k := range []string{"name", "namespace"} {
		if v, ok := meta[k]; ok {
			m[k] = v
		}
	}
	for _, k := range []string{"labels", "annotations"} {
		kv, _ := meta[k].(map[string]any)
		keep := map[string]any{}
		for name, v := range kv {
			if name == "work.karmada.io/conflict-resolution" || !slices.ContainsFunc(karmadaPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
				keep[name] = v
			}
		}
		if len(keep) > 0 {
			m[k] = keep
		}
	}
	q["metadata"] = m
	return q
}

// generated drops what an API server filled into a template's spec when it created it.
func generated(o map[string]any) {
	spec, _ := o["spec"].(map[string]any)
	switch str(o, "kind") {
	case "Service":
		for _, f := range []string{"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"} {
			delete(spec, f)
		}
	case "Job":
		delete(spec, "selector")
		tmpl, _ := spec["template"].(map[string]any)
		meta, _ := tmpl["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		for _, l := range []string{"controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"} {
			delete(labels, l)
		}
	}
}

// system says why an object is the API server's own, not a template ("" if it is not).
func system(o map[string]any) string {
	meta, _ := o["metadata"].(map[string]any)
	ns, name, kind := str(meta, "namespace"), str(meta, "name"), str(o, "kind")
	switch {
	case strings.HasPrefix(ns, "kube-") || strings.HasPrefix(ns, "karmada-"):
		return "in a system namespace"
	case kind == "ConfigMap" && name == "kube-root-ca.crt",
		kind == "ServiceAccount" && name == "default",
		kind == "Service" && ns == "default" && name == "kubernetes":
		return "made by the API server"
	case kind == "Secret" && str(o, "type") == "kubernetes.io/service-account-token":
		return "a service account token"
	}
	if refs, _ := meta["ownerReferences"].([]any); len(refs) > 0 {
		return "owned by another object"
	}
	return ""
}

// mapClusters replaces the cluster names of every clusterNames and exclude list in a
// policy by Atoll's.
func mapClusters(v any, clusters map[string]string, what string) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if l, ok := e.([]any); ok && (k == "clusterNames" || k == "exclude") {
				for i, n := range l {
					name, _ := n.(string)
					to, ok := clusters[name]
					if !ok {
						return fmt.Errorf("%s: Karmada cluster %q has no Atoll cluster: map it with --cluster %s=<site>/<cluster>", what, name, name)
					}
					l[i] = to
				}
				continue
			}
			if err := mapClusters(e, clusters, what); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := mapClusters(e, clusters, what); err != nil {
				return err
			}
		}
	}
	return nil
}

// sorted orders objects by kind, namespace and name.
func sorted(objs []map[string]any) []map[string]any {
	out := slices.Clone(objs)
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(describe(a), describe(b)) })
	return out
}

func describe(o map[string]any) string {
	meta, _ := o["metadata"].(map[string]any)
	if ns := str(meta, "namespace"); ns != "" {
		return str(o, "kind") + " " + ns + "/" + str(meta, "name")
	}
	return str(o, "kind") + " " + str(meta, "name")
}

func apiVersion(o map[string]any) string { return str(o, "apiVersion") }

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
