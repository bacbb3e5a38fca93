package site

import (
	"sigs.k8s.io/yaml"

	"atoll/policy"
)

// Propagated HorizontalPodAutoscalers. An HPA placed at this site follows the workload it
// scales: it is applied only in the clusters that run replicas of it, each with its
// minReplicas and maxReplicas in proportion to that cluster's share of the workload's
// replicas (kube.Templates.Render). What each cluster's HPA then sets is that cluster's
// (kube.OwnsReplicas). An HPA whose target this site does not place, or that names no
// target, is applied as written.

// withAutoscalers adjusts this site's part of a pass (out, after withDeps) for the HPAs
// in it.
func withAutoscalers(ws []workload, out []placed) []placed {
	index := map[string]int{}
	for i := range ws {
		index[ws[i].sched.Key] = i
	}
	at := map[string]int{}
	for i, p := range out {
		at[p.w.Namespace+"/"+p.w.Name] = i
	}
	for i := range out {
		p := &out[i]
		if p.w.Kind != "HorizontalPodAutoscaler" || p.w.Template == nil {
			continue
		}
		kind, name, ok := scaleTarget(p.w.Template)
		if !ok {
			continue
		}
		key := p.w.Namespace + "/" + policy.WorkloadName(kind, name)
		t, placedHere := at[key]
		j, known := index[key]
		if !placedHere || !known || ws[j].render.Replicas <= 0 {
			continue
		}
		clusters := map[string]int{}
		for c := range p.clusters {
			if r := out[t].clusters[c]; r > 0 {
				clusters[c] = r
			}
		}
		p.clusters, p.w.ScaleOf = clusters, ws[j].render.Replicas
	}
	return out
}

// scaleTarget reads an HPA template's scaleTargetRef.
func scaleTarget(template []byte) (kind, name string, ok bool) {
	var hpa struct {
		Spec struct {
			ScaleTargetRef struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"scaleTargetRef"`
		} `json:"spec"`
	}
	if yaml.Unmarshal(template, &hpa) != nil {
		return "", "", false
	}
	r := hpa.Spec.ScaleTargetRef
	return r.Kind, r.Name, r.Kind != "" && r.Name != ""
}
