package kube

import (
	"crypto/sha256"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// A reconcile pass renders every workload it places, in every cluster, every pass; most
// templates are unchanged since the last. Parsing a template's YAML was a fifth of an
// idle site's CPU, so parsed templates are remembered by their content's hash and each
// render starts from a deep copy (several times cheaper than the parse). The memory is
// bounded: past maxParsed templates the oldest half is forgotten, so a site with more
// workloads than that parses as before.

// maxParsed bounds the parsed templates kept: about 4 KiB each for a Deployment.
const maxParsed = 2048

var parsed = struct {
	sync.Mutex
	m     map[[32]byte]*parsedTemplate
	clock uint64
}{m: map[[32]byte]*parsedTemplate{}}

type parsedTemplate struct {
	obj  map[string]any
	used uint64
}

// parseTemplate returns the template's YAML (or JSON) as an object of its own, which
// the caller may change.
func parseTemplate(b []byte) (map[string]any, error) {
	key := sha256.Sum256(b)
	parsed.Lock()
	parsed.clock++
	if p := parsed.m[key]; p != nil {
		p.used = parsed.clock
		parsed.Unlock()
		return runtime.DeepCopyJSON(p.obj), nil
	}
	parsed.Unlock()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	keep := runtime.DeepCopyJSON(m)
	parsed.Lock()
	defer parsed.Unlock()
	if len(parsed.m) >= maxParsed {
		forgetOldest()
	}
	parsed.m[key] = &parsedTemplate{obj: keep, used: parsed.clock}
	return m, nil
}

// forgetOldest drops the least recently used half of the parsed templates; parsed's lock
// is held.
func forgetOldest() {
	var total uint64
	for _, p := range parsed.m {
		total += p.used
	}
	mean := total / uint64(len(parsed.m))
	for k, p := range parsed.m {
		if p.used <= mean {
			delete(parsed.m, k)
		}
	}
}
