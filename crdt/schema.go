package crdt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Keys by kind (segments are DNS-1123 labels; a workload name may be a DNS-1123 subdomain):
//
//	charter   ""
//	site      <site>
//	cluster   <site>/<cluster>
//	workload  <namespace>/<name>, or /<name> for a cluster-scoped template (level 3)
//	status    <namespace>/<name>/<site>/<cluster>, or /<name>/<site>/<cluster>
//	policy    propagationpolicy/<namespace>/<name>, overridepolicy/<namespace>/<name>,
//	          clusterpropagationpolicy/<name> or clusteroverridepolicy/<name>, or
//	          resourceinterpretercustomization/<name> (level 3: how sites read a custom kind)
//
// Ownership is part of the key, so a scope check never needs state. A policy is one of
// Karmada's policy kinds, stored whole: crdt checks only its key and size, and every
// site decodes it strictly when it resolves placements (package policy).

// Fields by kind: exact names, or maps written as "prefix/<key>".
var (
	siteFields    = fieldSet{exact: []string{"address", "api", "version"}, maps: []string{"labels/"}}
	clusterFields = fieldSet{
		exact: []string{"health", "reason", "k8sVersion", "provider", "region", "zone", "nodes", "readyNodes", "observed"},
		maps:  []string{"allocatable/", "available/", "labels/", "taints/", TaintedAtPrefix},
	}
	workloadHeader = fieldSet{
		exact: []string{"apiVersion", "kind", "replicas", "placement", "bound", "generation", "labels"},
		maps:  []string{"labels/", "annotations/"},
	}
	// Body fields hold what residency protects: sealed when the workload has a bound.
	workloadBody = fieldSet{exact: []string{"template", "overrides"}, maps: []string{"body/"}}
	statusFields = fieldSet{
		exact: []string{"desired", "ready", "available", "updated", "conditions", "observed", "generation", "reason", "message"},
	}
	// A policy is its object as JSON (apiVersion, kind, metadata, spec), one register:
	// concurrent edits of one policy resolve as last writer wins, the policy whole.
	policyFields = fieldSet{exact: []string{"object"}}
)

// The policy kinds a policy key may start with; the cluster-scoped ones have no namespace.
var (
	namespacedPolicies = []string{"propagationpolicy", "overridepolicy"}
	clusterPolicies    = []string{"clusterpropagationpolicy", "clusteroverridepolicy", InterpreterPolicy}
)

// PolicyKey builds the key of a Karmada policy: kind is the Kubernetes kind
// (PropagationPolicy, ...), namespace is empty for the cluster-scoped kinds.
func PolicyKey(kind, namespace, name string) string {
	if namespace == "" {
		return strings.ToLower(kind) + "/" + name
	}
	return strings.ToLower(kind) + "/" + namespace + "/" + name
}

// PolicyScope splits a policy key: its lower-case kind and its namespace ("" for a
// cluster-scoped policy). ok is false if the key is not a policy key.
func PolicyScope(key string) (kind, namespace string, ok bool) {
	parts := strings.Split(key, "/")
	switch {
	case len(parts) == 3 && slices.Contains(namespacedPolicies, parts[0]):
		return parts[0], parts[1], true
	case len(parts) == 2 && slices.Contains(clusterPolicies, parts[0]):
		return parts[0], "", true
	}
	return "", "", false
}

type fieldSet struct {
	exact []string
	maps  []string
}

func (s fieldSet) has(f string) bool {
	for _, e := range s.exact {
		if f == e {
			return true
		}
	}
	for _, p := range s.maps {
		if len(f) > len(p) && strings.HasPrefix(f, p) {
			return true
		}
	}
	return false
}

// IsBodyField reports whether a workload field is part of the protected body.
func IsBodyField(field string) bool { return workloadBody.has(field) }

// ClusterKey, WorkloadKey and StatusKey build object keys.
func ClusterKey(site, cluster string) string { return site + "/" + cluster }

// WorkloadKey builds a workload key.
func WorkloadKey(namespace, name string) string { return namespace + "/" + name }

// StatusKey builds a status key.
func StatusKey(namespace, name, site, cluster string) string {
	return namespace + "/" + name + "/" + site + "/" + cluster
}

// checkOp validates one operation's key, field and value against the schema. An error
// that is an unknownError names what no level of this release knows (a kind, key form or
// field): only the charter of the change's causal past can tell a later release's
// addition from a forgery (format.go). Any other error is invalid at every level.
func checkOp(op *Op) error {
	if op.Kind < KindCharter || op.Kind > maxKind {
		return unknownError{fmt.Errorf("unknown kind %s", op.Kind)}
	}
	if err := checkKey(op.Kind, op.Key); err != nil {
		return unknownError{err}
	}
	if op.Type == OpRemove {
		if op.Kind == KindCharter {
			return fmt.Errorf("the charter cannot be removed")
		}
		return nil
	}
	if !validFieldName(op.Field) {
		return fmt.Errorf("%s %q: invalid field name %q", op.Kind, op.Key, op.Field)
	}
	var ok bool
	switch op.Kind {
	case KindCharter:
		return checkCharterField(op)
	case KindSite:
		ok = siteFields.has(op.Field)
	case KindCluster:
		ok = clusterFields.has(op.Field)
	case KindWorkload:
		ok = workloadHeader.has(op.Field) || workloadBody.has(op.Field)
		if ok && op.Type == OpSeal && !workloadBody.has(op.Field) {
			return fmt.Errorf("workload %q: only body fields can be sealed, not %q", op.Key, op.Field)
		}
	case KindStatus:
		ok = statusFields.has(op.Field)
	case KindPolicy:
		ok = policyFields.has(op.Field)
	}
	if !ok {
		return unknownError{fmt.Errorf("%s %q: unknown field %q", op.Kind, op.Key, op.Field)}
	}
	if op.Type == OpSeal && op.Kind != KindWorkload {
		return fmt.Errorf("%s %q: only workload bodies can be sealed", op.Kind, op.Key)
	}
	return nil
}

func checkKey(kind Kind, key string) error {
	if kind == KindPolicy {
		return checkPolicyKey(key)
	}
	parts := strings.Split(key, "/")
	want := map[Kind]int{KindCharter: 1, KindSite: 1, KindCluster: 2, KindWorkload: 2, KindStatus: 4}[kind]
	if kind == KindCharter {
		if key != "" {
			return fmt.Errorf("charter key must be empty, not %q", key)
		}
		return nil
	}
	if len(parts) != want {
		return fmt.Errorf("%s key %q: want %d segments separated by '/'", kind, key, want)
	}
	for i, p := range parts {
		isName := (kind == KindWorkload || kind == KindStatus) && i == 1
		if clusterScoped(kind, key) && i == 0 {
			continue // "/<name>": a cluster-scoped template, from level FormatClusterScope
		}
		if isName && !IsDNSSubdomain(p) || !isName && !IsDNSLabel(p) {
			return fmt.Errorf("%s key %q: invalid segment %q", kind, key, p)
		}
	}
	return nil
}

// checkPolicyKey checks a policy key: a known policy kind, a namespace that is a
// DNS-1123 label for the namespaced kinds, and a name that is a DNS-1123 subdomain.
func checkPolicyKey(key string) error {
	_, ns, ok := PolicyScope(key)
	if !ok {
		return fmt.Errorf("policy key %q: want %s/<namespace>/<name> or %s/<name>", key,
			strings.Join(namespacedPolicies, "|"), strings.Join(clusterPolicies, "|"))
	}
	if ns != "" && !IsDNSLabel(ns) {
		return fmt.Errorf("policy key %q: invalid namespace %q", key, ns)
	}
	if name := key[strings.LastIndexByte(key, '/')+1:]; !IsDNSSubdomain(name) {
		return fmt.Errorf("policy key %q: invalid name %q", key, name)
	}
	return nil
}

// IsDNSLabel reports whether s is a DNS-1123 label (the names of namespaces, sites, clusters).
func IsDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// IsDNSSubdomain reports whether s is a DNS-1123 subdomain (the names of most Kubernetes objects).
func IsDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !IsDNSLabel(l) {
			return false
		}
	}
	return true
}

// IsJurisdiction reports whether s is a jurisdiction name: 1 to 63 letters, digits or '-'.
func IsJurisdiction(s string) bool {
	if len(s) == 0 || len(s) > MaxJurisdiction {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validFieldName(f string) bool {
	if len(f) == 0 || len(f) > MaxNameBytes {
		return false
	}
	for i := 0; i < len(f); i++ {
		if f[i] <= ' ' || f[i] > '~' {
			return false
		}
	}
	return true
}

// Charter fields:
//
//	name                          federation name
//	threshold                     m of m-of-n: admin signatures a charter change needs (decimal)
//	maxReplicas                   most replicas a workload may have (decimal, 1 to 2^31-1; default 100000)
//	format                        the format level the federation has reached (format.go; default 1)
//	admin/<name>                  admin public key (32 bytes)
//	site/<name>/key               site public key (32 bytes)
//	site/<name>/region            free text, e.g. eu-west
//	site/<name>/jurisdiction      jurisdiction name, e.g. EU
//	site/<name>/drain             "true": the site is leaving; its share moves to the others
//	operator/<name>/key           operator public key (32 bytes)
//	operator/<name>/namespaces    "*" or comma-separated namespaces the operator may write
//	operator/<name>/clusterscope  "true": the operator may write cluster-scoped templates (level 3)
//	observer/<name>/key           read-only identity (32 bytes)
//	quota/..., operator/<name>/quota/bytes: quotas (quota.go)
func checkCharterField(op *Op) error {
	if op.Type == OpSeal {
		return fmt.Errorf("charter fields cannot be sealed")
	}
	parts := strings.Split(op.Field, "/")
	bad := unknownError{fmt.Errorf("charter: unknown field %q", op.Field)}
	if op.Type == OpDelete {
		if len(parts) == 1 {
			return fmt.Errorf("charter: field %q cannot be deleted", op.Field)
		}
	}
	if ok, err := checkQuotaField(op, parts); ok {
		return err
	}
	v := string(op.Value)
	isSet := op.Type == OpSet
	switch {
	case len(parts) == 1 && parts[0] == "name":
		return nil
	case len(parts) == 1 && parts[0] == MaxReplicasField:
		return checkMaxReplicasField(op)
	case len(parts) == 1 && parts[0] == FormatField:
		return checkFormatField(op)
	case len(parts) == 1 && parts[0] == "threshold":
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > MaxCosigs+1 || strconv.Itoa(n) != v {
			return fmt.Errorf("charter: threshold %q is not a number from 1 to %d", v, MaxCosigs+1)
		}
		return nil
	case len(parts) == 2 && parts[0] == "admin" && IsDNSLabel(parts[1]):
		return checkKeyValue(op, isSet)
	case len(parts) == 3 && (parts[0] == "site" || parts[0] == "operator" || parts[0] == "observer") && IsDNSLabel(parts[1]):
		switch {
		case parts[2] == "key":
			return checkKeyValue(op, isSet)
		case parts[0] == "site" && parts[2] == "region":
			return nil
		case parts[0] == "site" && parts[2] == "drain":
			if isSet && v != "true" {
				return fmt.Errorf("charter: %s: %q: the only value is \"true\" (delete the field to stop draining)", op.Field, v)
			}
			return nil
		case parts[0] == "site" && parts[2] == "jurisdiction":
			if isSet && !IsJurisdiction(v) {
				return fmt.Errorf("charter: %s: invalid jurisdiction %q", op.Field, v)
			}
			return nil
		case parts[0] == "operator" && parts[2] == "clusterscope":
			if isSet && v != "true" {
				return fmt.Errorf("charter: %s: %q: the only value is \"true\" (delete the field to revoke it)", op.Field, v)
			}
			return nil
		case parts[0] == "operator" && parts[2] == "namespaces":
			if isSet && v != "*" {
				for _, ns := range strings.Split(v, ",") {
					if !IsDNSLabel(ns) {
						return fmt.Errorf("charter: %s: invalid namespace %q", op.Field, ns)
					}
				}
			}
			return nil
		}
	}
	return bad
}

func checkKeyValue(op *Op, isSet bool) error {
	if isSet && len(op.Value) != 32 {
		return fmt.Errorf("charter: %s: a key is 32 bytes, not %d", op.Field, len(op.Value))
	}
	return nil
}
