package policy

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"atoll/scheduler"
)

// decodePolicy decodes and validates one Karmada policy object. The errors locate the
// field they are about (fieldError) where they can.
func decodePolicy(o *Object, kind string) (*karmadaPolicy, []error) {
	p := &karmadaPolicy{obj: o, kind: kind}
	var errs []error
	if p.propagation() {
		var d propagationDoc
		if errs = decodeStrict(o.Map, &d, propagationUnsupported); len(errs) > 0 {
			return p, errs
		}
		errs = p.setMeta(d.Metadata)
		p.selectors = d.Spec.ResourceSelectors
		if d.Spec.Priority != nil {
			p.priority = *d.Spec.Priority
		}
		p.deps = d.Spec.PropagateDeps
		switch d.Spec.ConflictResolution {
		case "", "Abort":
		case "Overwrite":
			p.adopt = true
		default:
			errs = append(errs, errAt(fieldPath{"spec", "conflictResolution"}, "%q: want Abort or Overwrite", d.Spec.ConflictResolution))
		}
		if f := d.Spec.Failover; f != nil {
			errs = append(errs, validateFailover(f, fieldPath{"spec", "failover"})...)
			p.policy.Failover = f
		}
		pl := d.Spec.Placement
		errs = append(errs, validatePlacement(&pl, fieldPath{"spec", "placement"})...)
		defaultPlacement(&pl)
		p.policy.Placement = pl
		if len(p.selectors) == 0 {
			errs = append(errs, errAt(fieldPath{"spec", "resourceSelectors"}, "at least one selector is required"))
		}
	} else {
		var d overrideDoc
		if errs = decodeStrict(o.Map, &d, overrideUnsupported); len(errs) > 0 {
			return p, errs
		}
		errs = p.setMeta(d.Metadata)
		p.selectors = d.Spec.ResourceSelectors
		var rerrs []error
		p.rules, rerrs = overrideRules(p, d.Spec.OverrideRules, d.Spec.TargetCluster, d.Spec.Overriders)
		errs = append(errs, rerrs...)
	}
	for i, rs := range p.selectors {
		errs = append(errs, p.validateSelector(rs, fieldPath{"spec", "resourceSelectors", i})...)
	}
	return p, errs
}

// setMeta takes the policy's name, namespace and Atoll annotations.
func (p *karmadaPolicy) setMeta(meta objectMeta) []error {
	var errs []error
	p.name, p.namespace = meta.Name, meta.Namespace
	for _, msg := range validation.IsDNS1123Subdomain(p.name) {
		errs = append(errs, errAt(fieldPath{"metadata", "name"}, "%q: %s", p.name, msg))
	}
	switch {
	case p.cluster() && p.namespace != "":
		errs = append(errs, errAt(fieldPath{"metadata", "namespace"}, "a %s is cluster-scoped: it has no namespace", p.kind))
	case !p.cluster() && p.namespace == "":
		p.namespace = "default"
	case !p.cluster():
		for _, msg := range validation.IsDNS1123Label(p.namespace) {
			errs = append(errs, errAt(fieldPath{"metadata", "namespace"}, "%q: %s", p.namespace, msg))
		}
	}
	var allowed []string
	if p.propagation() {
		allowed = []string{AnnotationBound, AnnotationTakeover, AnnotationMaxSurge}
	}
	a, aerrs := readAnnotations(meta.Annotations, allowed)
	errs = append(errs, aerrs...)
	p.bound, p.policy.Takeover, p.policy.MaxSurge = a.bound, a.takeover, a.maxSurge
	if p.propagation() {
		p.policy.Source = p.String()
	}
	return errs
}

// validateSelector checks a resource selector of the policy.
func (p *karmadaPolicy) validateSelector(rs resourceSelector, at fieldPath) []error {
	var errs []error
	if rs.APIVersion == "" {
		errs = append(errs, errAt(at.key("apiVersion"), "required"))
	}
	if rs.Kind == "" {
		errs = append(errs, errAt(at.key("kind"), "required"))
	}
	if !p.cluster() && rs.Namespace != "" && rs.Namespace != p.namespace {
		errs = append(errs, errAt(at.key("namespace"), "%q: a %s selects only in its own namespace %q", rs.Namespace, p.kind, p.namespace))
	}
	if rs.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(rs.LabelSelector); err != nil {
			errs = append(errs, errAt(at.key("labelSelector"), "%v", err))
		}
	}
	return errs
}

// overrideRules builds the rules of an override policy from overrideRules, or from the
// older targetCluster and overriders, which Karmada does not let coexist with them.
func overrideRules(p *karmadaPolicy, rules []ruleDoc, target *scheduler.ClusterAffinity, ovs *Overriders) ([]Rule, []error) {
	var out []Rule
	var errs []error
	if len(rules) > 0 {
		if target != nil {
			errs = append(errs, errAt(fieldPath{"spec", "targetCluster"}, "cannot be set with overrideRules"))
		}
		if ovs != nil && !ovs.empty() {
			errs = append(errs, errAt(fieldPath{"spec", "overriders"}, "cannot be set with overrideRules"))
		}
		for i, r := range rules {
			at := fieldPath{"spec", "overrideRules", i}
			out = append(out, Rule{TargetCluster: r.TargetCluster, Overriders: r.Overriders})
			errs = append(errs, validateRule(out[i], at)...)
		}
	} else if ovs != nil {
		out = append(out, Rule{TargetCluster: target, Overriders: *ovs})
		errs = append(errs, validateRule(out[0], fieldPath{"spec"})...)
	} else {
		errs = append(errs, errAt(fieldPath{"spec"}, "no overrideRules (nor the older targetCluster and overriders): the policy overrides nothing"))
	}
	for i := range out {
		if len(rules) > 0 {
			out[i].Source = fmt.Sprintf("%s overrideRules[%d]", p, i)
		} else {
			out[i].Source = p.String()
		}
	}
	return out, errs
}
