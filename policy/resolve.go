package policy

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resolve turns the objects of one apply into workloads. Karmada policies
// (policy.karmada.io/v1alpha1 PropagationPolicy, ClusterPropagationPolicy,
// OverridePolicy, ClusterOverridePolicy) give the manifests their placement and
// overrides; every other object is a manifest and becomes a Workload, in input order.
//
// Every problem is an error naming file:line, and all are returned together: unknown or
// unsupported fields, invalid values, cluster-scoped kinds, two manifests with one
// namespace and name. Notes tell what was skipped or has no effect: a Namespace, a
// policy that matches no manifest or never wins, an overrider with nothing to act on.
// A Workload's Policy and Overrides are what the apply's own policies give it; sites
// resolve from the stored policies (Set), which the apply's are among once written.
func Resolve(objs []Object) ([]Workload, []string, error) {
	ws, _, notes, err := Split(objs)
	return ws, notes, err
}

// Split is Resolve that also returns the policies, to store: a policy that matches no
// manifest of the apply is stored all the same (with a note), to place the templates
// that match it later.
func Split(objs []Object) ([]Workload, []*Policy, []string, error) {
	return SplitWith(objs, nil)
}

// SplitWith is Split with the policies stored already: their resource-interpreter
// customizations read the replicas of custom resources the apply's own do not.
func SplitWith(objs []Object, stored []*Policy) ([]Workload, []*Policy, []string, error) {
	r := resolver{clusterCRs: clusterScopedCRs(objs), namespaceSelected: selectsNamespaces(objs)}
	for _, p := range stored {
		if p.ric != nil {
			r.stored = append(r.stored, p.ric)
		}
	}
	for i := range objs {
		r.classify(&objs[i])
	}
	if len(r.errs) > 0 {
		return nil, nil, r.notes, errors.Join(r.errs...)
	}
	var ws []Workload
	for _, m := range r.manifests {
		if w, ok := r.workload(m); ok {
			ws = append(ws, w)
		}
	}
	r.unused()
	if len(r.errs) > 0 {
		return nil, nil, r.notes, errors.Join(r.errs...)
	}
	var ps []*Policy
	for _, p := range slices.Concat(r.propagations, r.overrides) {
		ps = append(ps, &Policy{p: p})
	}
	for _, c := range r.interpreters {
		ps = append(ps, &Policy{ric: c})
	}
	return ws, ps, r.notes, nil
}

type resolver struct {
	// clusterCRs are the custom kinds ("Kind.group") whose CRD in this apply says
	// scope: Cluster; namespaceSelected is whether a policy of the apply selects Namespaces.
	clusterCRs        map[string]bool
	namespaceSelected bool
	manifests         []*manifest
	interpreters      []*interpreterPolicy
	stored            []*interpreterPolicy // stored before this apply (SplitWith)
	byKey             map[string]*manifest // by "<namespace>/<name>"
	propagations      []*karmadaPolicy
	overrides         []*karmadaPolicy
	errs              []error
	notes             []string
}

// fail records errors about object o, located at the line of the field each names.
func (r *resolver) fail(o *Object, who string, errs ...error) {
	type located struct {
		line int
		err  error
	}
	ls := make([]located, 0, len(errs))
	for _, err := range errs {
		line := o.Line
		var fe *fieldError
		if errors.As(err, &fe) {
			if l := lineOf(o.node, fe.path); l > 0 {
				line = l
			}
		}
		ls = append(ls, located{line, err})
	}
	slices.SortStableFunc(ls, func(a, b located) int { return cmp.Compare(a.line, b.line) })
	for _, l := range ls {
		r.errs = append(r.errs, fmt.Errorf("%s:%d: %s: %w", o.File, l.line, who, l.err))
	}
}

func (r *resolver) note(o *Object, format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf("%s:%d: ", o.File, o.Line)+fmt.Sprintf(format, args...))
}

var policyKinds = []string{kindPropagationPolicy, kindClusterPropagationPolicy, kindOverridePolicy, kindClusterOverridePolicy}

// classify decodes a policy or reads a manifest.
func (r *resolver) classify(o *Object) {
	apiVersion, _ := o.Map["apiVersion"].(string)
	kind, _ := o.Map["kind"].(string)
	ns, name := ident(o.Map)
	who := strings.TrimSpace(kind + " " + name)
	if apiVersion == "" || kind == "" {
		r.fail(o, cmp.Or(who, "object"), errors.New("apiVersion and kind are required (strings)"))
		return
	}
	if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
		r.fail(o, who, errAt(fieldPath{"apiVersion"}, "%v", err))
		return
	}
	group := groupOf(apiVersion)
	switch {
	case group == karmadaGroup && slices.Contains(policyKinds, kind):
		if !strings.HasPrefix(kind, "Cluster") {
			who = kind + " " + cmp.Or(ns, "default") + "/" + name
		}
		if apiVersion != karmadaAPIVersion {
			r.fail(o, who, errAt(fieldPath{"apiVersion"}, "%q: Atoll reads %s", apiVersion, karmadaAPIVersion))
			return
		}
		p, errs := decodePolicy(o, kind)
		if len(errs) > 0 {
			r.fail(o, who, errs...)
			return
		}
		r.addPolicy(p)
	case apiVersion == interpreterAPIVersion && kind == kindInterpreter:
		r.readInterpreter(o, kind+" "+name)
	case group == "karmada.io" || strings.HasSuffix(group, ".karmada.io"):
		r.fail(o, who, fmt.Errorf("%s: not supported by Atoll, which reads the %s policy kinds %s", apiVersion, karmadaAPIVersion, strings.Join(policyKinds, ", ")))
	case group == "" && kind == "Namespace" && !r.namespaceSelected:
		r.note(o, "Namespace %s skipped: Atoll creates namespaces where workloads need them (a ClusterPropagationPolicy that selects Namespaces propagates them as templates)", name)
	default:
		scoped := isClusterScoped(apiVersion, kind) || r.clusterCRs[kind+"."+group]
		m, errs := newManifest(o, apiVersion, kind)
		if scoped {
			if ns != "" {
				errs = append(errs, errAt(fieldPath{"metadata", "namespace"}, "%q: %s is cluster-scoped", ns, kind))
			}
			m.Namespace, m.clusterScoped = "", true
		}
		if len(errs) > 0 {
			r.fail(o, m.String(), errs...)
			return
		}
		key := m.Namespace + "/" + WorkloadName(m.Kind, m.Name)
		if other := r.byKey[key]; other != nil {
			r.fail(o, m.String(), fmt.Errorf("%s at %s:%d is the same workload %s", other, other.obj.File, other.obj.Line, key))
			return
		}
		if r.byKey == nil {
			r.byKey = map[string]*manifest{}
		}
		r.byKey[key] = m
		r.manifests = append(r.manifests, m)
	}
}

func (r *resolver) addPolicy(p *karmadaPolicy) {
	list := &r.overrides
	if p.propagation() {
		list = &r.propagations
	}
	for _, other := range *list {
		if other.kind == p.kind && other.namespace == p.namespace && other.name == p.name {
			r.fail(p.obj, p.String(), fmt.Errorf("also at %s:%d", other.obj.File, other.obj.Line))
			return
		}
	}
	for i, rs := range p.selectors {
		if rs.Name != "" && rs.LabelSelector != nil {
			r.note(p.obj, "%s: resourceSelectors[%d]: labelSelector is ignored since name is set (as in Karmada)", p, i)
		}
	}
	*list = append(*list, p)
}

// workload builds the workload of a manifest; ok is false if that failed.
func (r *resolver) workload(m *manifest) (w Workload, ok bool) {
	o := m.obj
	w = Workload{
		Namespace: m.Namespace, Name: m.Name, Key: m.Namespace + "/" + WorkloadName(m.Kind, m.Name), APIVersion: m.APIVersion, Kind: m.Kind,
		Bound:  m.bound,
		Source: o.File + ":" + strconv.Itoa(o.Line),
		Labels: maps.Clone(m.Labels),
	}
	var err error
	if w.Replicas, err = m.replicas(); err != nil {
		r.fail(o, m.String(), err)
		return w, false
	}
	if w.Template, err = m.template(); err != nil {
		r.fail(o, m.String(), err)
		return w, false
	}
	if w.Replicas < 0 {
		if w.Replicas, err = r.interpretedReplicas(m); err != nil {
			r.fail(o, m.String(), err)
			return w, false
		}
	}
	p, matched := placementFor(&m.Target, r.propagations)
	for _, q := range matched {
		q.matched++
		if q != p {
			q.lostTo = p.String()
		}
	}
	if p != nil {
		p.won++
		w.PlacedBy = p.String()
		w.Policy = clone(p.policy)
		// The kinds no level divides; a Job's level is the caller's check (CheckDivide).
		if err := CannotDivide(w.Kind, w.Policy, JobsLevel); err != nil {
			r.fail(o, m.String(), fmt.Errorf("%s: %w", p, err))
			return w, false
		}
		if err := CannotDivideIndexed(w.Kind, w.Policy, m.completionMode()); err != nil {
			r.fail(o, m.String(), fmt.Errorf("%s: %w", p, err))
			return w, false
		}
		switch {
		case len(p.bound) == 0:
		case len(m.bound) == 0:
			w.Bound = p.bound
		case !slices.Equal(m.bound, p.bound):
			r.fail(o, m.String(), errAt(fieldPath{"metadata", "annotations", AnnotationBound}, "%s differs from %s's %s",
				strings.Join(m.bound, ","), p, strings.Join(p.bound, ",")))
			return w, false
		}
	}
	for _, p := range overridesFor(&m.Target, r.overrides) {
		p.matched++
		for _, rule := range p.rules {
			w.Overrides = append(w.Overrides, clone(rule))
			for _, n := range ruleNotes(m, rule) {
				r.note(p.obj, "%s: %s", rule.Source, n)
			}
		}
	}
	return w, true
}

// unused notes policies that match no manifest of the apply or never win.
func (r *resolver) unused() {
	for _, p := range slices.Concat(r.propagations, r.overrides) {
		what := "places"
		if !p.propagation() {
			what = "overrides"
		}
		switch {
		case p.matched == 0:
			r.note(p.obj, "%s matches no manifest in this apply; it is stored, and %s the templates that match it when they are written", p, what)
		case p.propagation() && p.won == 0:
			r.note(p.obj, "%s is not used: %s takes precedence for every manifest it matches", p, p.lostTo)
		}
	}
}

// clone deep-copies a value of this package's JSON types, so that workloads share
// nothing.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	var out T
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		panic(fmt.Sprintf("policy: %T does not round-trip through JSON: %v", v, err))
	}
	return out
}
