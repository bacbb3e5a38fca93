package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"atoll/scheduler"
)

// Stored policies. Atoll keeps Karmada's policies as objects of the replicated state
// (crdt kind policy), and every site resolves from them, as Karmada's controllers do,
// which policy places each template and which override it: a policy applies to
// templates written after it, and editing or deleting one re-places what it selects.
// Resolution reads only a template's identity and labels, which a site holds even where
// a bound keeps the template's body away, so every site resolves alike.

// Target is what a policy selects a template by.
type Target struct {
	APIVersion, Kind string
	Namespace, Name  string
	Labels           map[string]string
}

// Policy is one decoded Karmada policy, as it is stored.
type Policy struct {
	p   *karmadaPolicy
	ric *interpreterPolicy // a resource-interpreter customization instead (interpreter.go)
}

// Kind is the policy's kind (PropagationPolicy, ClusterPropagationPolicy, ...,
// ResourceInterpreterCustomization).
func (p *Policy) Kind() string {
	if p.ric != nil {
		return kindInterpreter
	}
	return p.p.kind
}

// Namespace is the policy's namespace, "" for the cluster-scoped kinds.
func (p *Policy) Namespace() string {
	if p.ric != nil {
		return ""
	}
	return p.p.namespace
}

// Name is the policy's name.
func (p *Policy) Name() string {
	if p.ric != nil {
		return p.ric.c.Name
	}
	return p.p.name
}

// Propagation reports whether it is a (Cluster)PropagationPolicy.
func (p *Policy) Propagation() bool { return p.ric == nil && p.p.propagation() }

func (p *Policy) String() string {
	if p.ric != nil {
		return kindInterpreter + " " + p.ric.c.Name
	}
	return p.p.String()
}

// Object is the policy as Atoll stores it: JSON of its apiVersion, kind, metadata
// (name, namespace, labels and annotations) and spec, keys sorted. What an API server
// adds to metadata (uid, resourceVersion, ...) is left out.
func (p *Policy) Object() ([]byte, error) {
	var obj *Object
	if p.ric != nil {
		obj = p.ric.obj
	} else {
		obj = p.p.obj
	}
	m := obj.Map
	meta, _ := m["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := meta[k]; ok && v != nil {
			keep[k] = v
		}
	}
	return json.Marshal(map[string]any{"apiVersion": m["apiVersion"], "kind": m["kind"], "metadata": keep, "spec": m["spec"]})
}

// MaxStoredPolicy is the largest stored policy object a site decodes, in bytes.
const MaxStoredPolicy = 64 << 10

// Decode reads one policy object (YAML or JSON) as apply reads a policy: strictly, every
// problem an error. A site decodes each stored policy with it, so a policy an earlier or
// faulty writer stored is refused here, with its reasons, rather than half-applied.
func Decode(name string, object []byte) (*Policy, error) {
	if len(object) > MaxStoredPolicy {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a policy may have", name, len(object), MaxStoredPolicy)
	}
	objs, err := Parse(name, object)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: want one policy object, found %d", name, len(objs))
	}
	var r resolver
	r.classify(&objs[0])
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	if len(r.interpreters) == 1 {
		return &Policy{ric: r.interpreters[0]}, nil
	}
	ps := slices.Concat(r.propagations, r.overrides)
	if len(ps) != 1 {
		return nil, fmt.Errorf("%s: not a %s policy (%s) or a %s %s", name, karmadaAPIVersion, strings.Join(policyKinds, ", "), interpreterAPIVersion, kindInterpreter)
	}
	return &Policy{p: ps[0]}, nil
}

// Set is the policies a site resolves with. It is read-only once built: sites resolve
// from one Set concurrently.
type Set struct {
	propagations, overrides []*karmadaPolicy
	interpreters            Interpreters
}

// NewSet builds a Set of policies.
func NewSet(ps []*Policy) *Set {
	s := &Set{interpreters: Interpreters{}}
	for _, p := range ps {
		if c := p.Interpreter(); c != nil {
			k := interpreterKey(c.APIVersion, c.Kind)
			s.interpreters[k] = append(s.interpreters[k], c)
			continue
		}
		if p.Propagation() {
			s.propagations = append(s.propagations, p.p)
		} else {
			s.overrides = append(s.overrides, p.p)
		}
	}
	return s
}

// Len is how many policies the Set holds.
func (s *Set) Len() int {
	n := len(s.propagations) + len(s.overrides)
	for _, cs := range s.interpreters {
		n += len(cs)
	}
	return n
}

// Interpreters are the stored resource-interpreter customizations, by target kind.
func (s *Set) Interpreters() Interpreters { return s.interpreters }

// Resolution is what the stored policies give one template.
type Resolution struct {
	// PlacedBy names the propagation policy that places the template ("" if none does):
	// "ClusterPropagationPolicy all" or "PropagationPolicy shop/web".
	PlacedBy  string
	Placement scheduler.Policy // the winning policy's; zero if none
	Bound     []string         // the winning policy's atoll.io/bound
	Overrides []Rule           // of every matching override policy, in the order they apply
	// OverriddenBy names the override policies whose rules are in Overrides, in order.
	OverriddenBy []string
	// PropagateDeps is the winning policy's propagateDeps: what the template's pods refer
	// to (ConfigMaps, Secrets, ServiceAccount, PersistentVolumeClaims) goes with it.
	PropagateDeps bool
	// Overwrite is the winning policy's conflictResolution: Overwrite: an object of the
	// template's name that Atoll did not create in a member cluster is adopted, where the
	// site's admission allows it.
	Overwrite bool
}

// Resolve gives a template its placement and overrides from the Set, with Karmada's
// precedence (see the package doc). The Resolution shares nothing with the Set.
func (s *Set) Resolve(t Target) Resolution {
	var res Resolution
	if p, _ := placementFor(&t, s.propagations); p != nil {
		res.PlacedBy, res.Placement, res.Bound, res.PropagateDeps, res.Overwrite = p.String(), clone(p.policy), slices.Clone(p.bound), p.deps, p.adopt
	}
	for _, p := range overridesFor(&t, s.overrides) {
		res.OverriddenBy = append(res.OverriddenBy, p.String())
		for _, rule := range p.rules {
			res.Overrides = append(res.Overrides, clone(rule))
		}
	}
	return res
}
