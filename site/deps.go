package site

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"atoll/interpret"
	"atoll/policy"
)

// Dependencies (Karmada's propagateDeps). A workload whose propagation policy says
// propagateDeps takes with it what its pods refer to: the ConfigMaps, Secrets,
// ServiceAccount and PersistentVolumeClaims its pod template names, when the federation
// holds them as workloads of its namespace. Each goes to exactly the clusters where a
// workload that refers to it runs replicas, besides wherever its own policy places it, and
// leaves a cluster once none there needs it (the pass no longer places it, so the prune
// removes it). Every site decides for its own clusters from its own plan: nothing is
// stored, nothing is agreed.

// A custom kind's dependencies are what the dependencyInterpretation script of a stored
// customization of its kind lists (package interpret runs it in its sandbox, and keeps
// the list to the object's own namespace and interpret.MaxDependencies entries). Each
// site runs it for its own plan only, as it reads pod templates, so a script's deadline
// cannot make sites disagree on anything they must agree on.

// podSpecPaths are where each kind keeps the pod spec its replicas run.
var podSpecPaths = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
	"Pod":         {"spec"},
}

// podDeps lists what a template's pods refer to; none for a kind without pods or a
// template that does not parse (the apply refused it already).
func podDeps(template []byte) []interpret.Named {
	var m map[string]any
	if yaml.Unmarshal(template, &m) != nil {
		return nil
	}
	kind, _ := m["kind"].(string)
	path, ok := podSpecPaths[kind]
	if !ok {
		return nil
	}
	raw, found, _ := unstructured.NestedMap(m, path...)
	if !found {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	var spec corev1.PodSpec
	if json.Unmarshal(b, &spec) != nil {
		return nil
	}
	return interpret.PodDependencies(spec)
}

// depKeys are the workload keys of a namespace's dependencies.
func depKeys(ns string, deps []interpret.Named) []string {
	out := make([]string, 0, len(deps))
	for _, d := range deps {
		out = append(out, ns+"/"+policy.WorkloadName(d.Kind, d.Name))
	}
	return out
}

// withDeps adds to this site's part of a pass (out, in the order of ws) the dependencies
// of the workloads placed here with propagateDeps: each dependency goes to the clusters
// where one of them runs replicas. It returns the placements and the refusals: a
// dependency whose body this site does not hold (its bound excludes the site) cannot
// follow.
func withDeps(ws []workload, out []placed) ([]placed, []refusalOf) {
	index := map[string]int{}
	for i := range ws {
		index[ws[i].sched.Key] = i
	}
	at := map[string]int{} // key -> index in out
	for i, p := range out {
		at[p.w.Namespace+"/"+p.w.Name] = i
	}
	var refusals []refusalOf
	for _, p := range out {
		dependent := p.w.Namespace + "/" + p.w.Name
		i, ok := index[dependent]
		if !ok || len(ws[i].deps) == 0 {
			continue
		}
		for _, key := range ws[i].deps {
			j, ok := index[key]
			if !ok || ws[j].err != nil {
				continue // not in the federation (yet), or refused itself
			}
			d := &ws[j]
			if d.render.Template == nil {
				refusals = append(refusals, refusalOf{key, refusal{"residency",
					fmt.Sprintf("a dependency of %s, but its bound %v keeps its body away from this site", dependent, d.render.Bound)}})
				continue
			}
			k, ok := at[key]
			if !ok {
				out = append(out, placed{w: d.render, clusters: map[string]int{}})
				k = len(out) - 1
				at[key] = k
			}
			for c, n := range p.clusters {
				if n > 0 && out[k].clusters[c] == 0 {
					out[k].clusters[c] = 1
				}
			}
		}
	}
	return out, refusals
}

// refusalOf is a refusal of one workload.
type refusalOf struct {
	key string
	r   refusal
}

// maxDepsTime bounds the time one pass spends running dependency scripts, which it does
// under mu: a script may take interpret.CallTimeout, and a customization that an operator
// with cluster scope wrote applies to every custom resource of its kind. Past it, a
// template keeps the dependencies its previous version had until a later pass runs its
// script: a dependency is not pruned and placed again while the scripts catch up.
const maxDepsTime = 50 * time.Millisecond

// interpretedDeps returns what a custom resource's template depends on, as customization
// c's GetDependencies says: run once per template change and customization, since every
// pass reads every workload, and only while budget lasts (maxDepsTime). A failing script
// gives no dependencies, logged once. mu must be held (inspected filled s.templates[key]
// in this pass).
func (s *Site) interpretedDeps(key string, c *interpret.Customization, template []byte, budget *time.Duration) []interpret.Named {
	t := s.templates[key]
	if t.depsBy == c || *budget <= 0 {
		return t.customDeps
	}
	began := time.Now()
	defer func() { *budget -= time.Since(began) }()
	var deps []interpret.Named
	var m map[string]any
	err := yaml.Unmarshal(template, &m)
	if err == nil {
		var ds []interpret.Dependency
		if ds, err = c.GetDependencies(m); err == nil {
			for _, d := range ds {
				deps = append(deps, interpret.Named{Kind: d.Kind, Name: d.Name})
			}
		}
	}
	if err != nil {
		s.log.Warn("dependency interpretation failed: no dependencies follow the workload", "workload", key, "customization", c.Name, "err", err)
	}
	t.depsBy, t.customDeps = c, deps
	s.templates[key] = t
	return deps
}
