package policy

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Karmada's implicit priorities: how precisely a resource selector matches a resource.
const (
	mismatch   = iota
	matchAll   // apiVersion and kind only
	matchLabel // by labelSelector
	matchName  // by name
)

// selectorMatch is Karmada's ResourceSelectorPriority: apiVersion and kind must be
// equal and the namespace, if set, too; then a name decides alone (a labelSelector beside
// it is ignored), else a labelSelector, else everything matches.
func selectorMatch(rs resourceSelector, t *Target) int {
	if rs.APIVersion != t.APIVersion || rs.Kind != t.Kind || (rs.Namespace != "" && rs.Namespace != t.Namespace) {
		return mismatch
	}
	if rs.Name != "" {
		if rs.Name == t.Name {
			return matchName
		}
		return mismatch
	}
	if rs.LabelSelector == nil {
		return matchAll
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.LabelSelector)
	if err != nil || !sel.Matches(labels.Set(t.Labels)) {
		return mismatch
	}
	return matchLabel
}

// matchPriority is how precisely a policy matches a template (mismatch if it does not):
// the best of its selectors; an override policy without selectors matches everything
// in its scope. A namespaced policy matches only in its own namespace.
func (p *karmadaPolicy) matchPriority(t *Target) int {
	if !p.cluster() && p.namespace != t.Namespace {
		return mismatch
	}
	if len(p.selectors) == 0 && !p.propagation() {
		return matchAll
	}
	best := mismatch
	for _, rs := range p.selectors {
		best = max(best, selectorMatch(rs, t))
	}
	return best
}

// placementFor picks the propagation policy of a template as Karmada does: a
// PropagationPolicy over a ClusterPropagationPolicy; then the higher spec.priority; then
// the more precise match; then the name first in alphabetical order. matched are every
// policy that matches it, best among them. It changes nothing, so that sites may resolve
// concurrently from one Set.
func placementFor(t *Target, pps []*karmadaPolicy) (best *karmadaPolicy, matched []*karmadaPolicy) {
	bestImplicit := mismatch
	for _, p := range pps {
		implicit := p.matchPriority(t)
		if implicit == mismatch {
			continue
		}
		matched = append(matched, p)
		if best == nil || cmp.Or(
			cmp.Compare(scopeRank(p), scopeRank(best)),
			cmp.Compare(p.priority, best.priority),
			cmp.Compare(implicit, bestImplicit),
			cmp.Compare(best.name, p.name),
		) > 0 {
			best, bestImplicit = p, implicit
		}
	}
	return best, matched
}

// overridesFor returns the override policies of a template in Karmada's order of
// application: every ClusterOverridePolicy, then every OverridePolicy; within each, the
// less precise match first (so that the more precise one applies last and wins), then
// by name. It changes nothing.
func overridesFor(t *Target, ops []*karmadaPolicy) []*karmadaPolicy {
	type match struct {
		p        *karmadaPolicy
		implicit int
	}
	var ms []match
	for _, p := range ops {
		if implicit := p.matchPriority(t); implicit != mismatch {
			ms = append(ms, match{p, implicit})
		}
	}
	slices.SortStableFunc(ms, func(a, b match) int {
		return cmp.Or(
			cmp.Compare(scopeRank(a.p), scopeRank(b.p)),
			cmp.Compare(a.implicit, b.implicit),
			cmp.Compare(a.p.name, b.p.name),
		)
	})
	out := make([]*karmadaPolicy, len(ms))
	for i, x := range ms {
		out[i] = x.p
	}
	return out
}

// scopeRank orders cluster-scoped policies before namespaced ones.
func scopeRank(p *karmadaPolicy) int {
	if p.cluster() {
		return 0
	}
	return 1
}
