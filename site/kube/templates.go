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

// Templates remembers parsed templates for one site's renders (Templates.Render). Each
// site owns its own, so that sites sharing a process (atoll sites) share no cache and no
// lock. Safe for concurrent use; the zero value is not: use NewTemplates.
type Templates struct {
	mu    sync.Mutex
	m     map[[32]byte]*parsedTemplate
	clock uint64
}

// NewTemplates returns an empty cache of parsed templates.
func NewTemplates() *Templates { return &Templates{m: map[[32]byte]*parsedTemplate{}} }

type parsedTemplate struct {
	obj  map[string]any
	used uint64
}

// parse returns the template's YAML (or JSON) as an object of its own, which
// the caller may change.
func (t *Templates) parse(b []byte) (map[string]any, error) {
	key := sha256.Sum256(b)
	t.mu.Lock()
	t.clock++
	if p := t.m[key]; p != nil {
		p.used = t.clock
		t.mu.Unlock()
		return runtime.DeepCopyJSON(p.obj), nil
	}
	t.mu.Unlock()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	keep := runtime.DeepCopyJSON(m)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxParsed {
		t.forgetOldest()
	}
	t.m[key] = &parsedTemplate{obj: keep, used: t.clock}
	return m, nil
}

// forgetOldest drops the least recently used half of the parsed templates; t.mu is held.
func (t *Templates) forgetOldest() {
	var total uint64
	for _, p := range t.m {
		total += p.used
	}
	mean := total / uint64(len(t.m))
	for k, p := range t.m {
		if p.used <= mean {
			delete(t.m, k)
		}
	}
}
