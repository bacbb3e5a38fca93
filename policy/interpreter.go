package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"atoll/interpret"
)

// Resource-interpreter customizations (config.karmada.io/v1alpha1
// ResourceInterpreterCustomization) are stored like cluster-scoped policies (crdt policy
// key resourceinterpretercustomization/<name>, format level 3, an operator granted
// cluster scope): they tell every site how to read a custom kind. Package interpret
// decodes and runs them; here they are read from an apply, stored, and looked up.

const (
	interpreterAPIVersion = "config.karmada.io/v1alpha1"
	kindInterpreter       = "ResourceInterpreterCustomization"
)

// interpreterPolicy is a decoded customization and its object.
type interpreterPolicy struct {
	obj *Object
	c   *interpret.Customization
}

// readInterpreter decodes a customization of an apply; errors name its fields.
func (r *resolver) readInterpreter(o *Object, who string) {
	b, err := json.Marshal(o.Map)
	if err != nil {
		r.fail(o, who, err)
		return
	}
	c, err := interpret.Decode(b)
	if err != nil {
		r.fail(o, who, err)
		return
	}
	for _, other := range r.interpreters {
		if other.c.Name == c.Name {
			r.fail(o, who, fmt.Errorf("also at %s:%d", other.obj.File, other.obj.Line))
			return
		}
	}
	r.interpreters = append(r.interpreters, &interpreterPolicy{obj: o, c: c})
	for _, op := range unusedOps {
		if _, ok := c.Scripts[op]; ok {
			r.note(o, "%s %s: %s is stored, but sites do not run it: they use replicaResource, replicaRevision, healthInterpretation, statusReflection, statusAggregation and dependencyInterpretation", kindInterpreter, c.Name, op)
		}
	}
}

// unusedOps are the operations a customization may define that sites do not run yet:
// an apply says so in a note rather than leave them silently unused.
var unusedOps = []interpret.Op{interpret.OpRetention}

// Interpreter returns the customization a stored policy is, or nil for a Karmada
// placement or override policy.
func (p *Policy) Interpreter() *interpret.Customization {
	if p.ric == nil {
		return nil
	}
	return p.ric.c
}

// Interpreters index customizations by their target (apiVersion and kind): for each
// operation, the first customization in name order that defines it, as the stored
// policies' key order gives them.
type Interpreters map[string][]*interpret.Customization

// interpreterKey is the index key of a target kind.
func interpreterKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// For returns the customization that defines op for a kind, or nil. A kind of a
// Kubernetes API group (the core group, apps, batch, *.k8s.io) has none: Atoll reads
// those itself, so that a stored customization, which an operator with cluster scope
// writes, cannot change how every team's Deployments are read or divided.
func (ix Interpreters) For(apiVersion, kind string, op interpret.Op) *interpret.Customization {
	if builtinGroup(groupOf(apiVersion)) {
		return nil
	}
	for _, c := range ix[interpreterKey(apiVersion, kind)] {
		if _, ok := c.Scripts[op]; ok {
			return c
		}
	}
	return nil
}

// interpretedReplicas reads the replicas of a manifest whose kind a customization of the
// apply can both read (replicaResource) and revise (replicaRevision), as its
// GetReplicas says: what sites divide among clusters, each cluster's share set by
// ReviseReplica. -1 (not divided) for any other kind. It runs at the writer only, so
// every site divides the same stored number.
func (r *resolver) interpretedReplicas(m *manifest) (int, error) {
	var get *interpret.Customization
	revise := false
	for _, ip := range slices.Concat(r.interpreters, r.stored) {
		c := ip.c
		if c.APIVersion != m.APIVersion || c.Kind != m.Kind || builtinGroup(groupOf(m.APIVersion)) {
			continue
		}
		if _, ok := c.Scripts[interpret.OpReplicaResource]; ok && get == nil {
			get = c
		}
		if _, ok := c.Scripts[interpret.OpReplicaRevision]; ok {
			revise = true
		}
	}
	if get == nil || !revise {
		return -1, nil
	}
	n, _, err := get.GetReplicas(m.body())
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", kindInterpreter, get.Name, err)
	}
	if n < 0 || n > 1<<31-1 {
		return 0, fmt.Errorf("%s %s: GetReplicas returned %d, want 0 to 2^31-1", kindInterpreter, get.Name, n)
	}
	return int(n), nil
}

// ClusterScopeLevel is the charter format level that cluster-scoped templates and stored
// customizations need (crdt.FormatClusterScope).
const ClusterScopeLevel = 3

// CheckClusterScope refuses, before anything is sent, cluster-scoped templates and
// resource-interpreter customizations under a charter below ClusterScopeLevel: the sites
// would refuse them.
func CheckClusterScope(ws []Workload, ps []*Policy, format int) error {
	if format >= ClusterScopeLevel {
		return nil
	}
	for _, w := range ws {
		if w.Namespace == "" {
			return fmt.Errorf("%s: %s %s is cluster-scoped: the charter's format level is %d, cluster-scoped templates need %d (atoll charter propose --format %d)", w.Source, w.Kind, w.Name, format, ClusterScopeLevel, ClusterScopeLevel)
		}
	}
	for _, p := range ps {
		if p.ric != nil {
			return fmt.Errorf("%s:%d: %s: the charter's format level is %d, stored customizations need %d (atoll charter propose --format %d)", p.ric.obj.File, p.ric.obj.Line, p, format, ClusterScopeLevel, ClusterScopeLevel)
		}
	}
	return nil
}

// builtinGroup reports whether an API group is one of Kubernetes' own: the core group,
// a group without a dot (apps, batch, autoscaling, policy) or one under k8s.io.
func builtinGroup(g string) bool {
	return !strings.Contains(g, ".") || g == "k8s.io" || strings.HasSuffix(g, ".k8s.io")
}
