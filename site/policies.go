package site

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"atoll/crdt"
	"atoll/policy"
	"atoll/scheduler"
)

// The stored Karmada policies, as every site resolves them. Each policy object is
// decoded once per change that wrote it; one that does not decode, or is stored under
// another policy's key, takes no part and is reported (GET /v1/policies). Every site
// holds the same policies once converged and resolves them alike, so every site divides
// every workload alike.

// MaxPolicies is the most stored policies a site resolves with: those first in key
// order, the same at every site. The rest are refused, with the reason reported. An
// operator's byte quota bounds how many it may store; this bounds what resolving costs
// per workload whatever the quotas.
const MaxPolicies = 10_000

// storedPolicy is one policy object as this site read it.
type storedPolicy struct {
	change crdt.Hash // the change that wrote it
	p      *policy.Policy
	err    error // why it takes no part
}

// policies is the site's decoded policies and the Set built from them. Guarded by mu
// (a field of replication).
type policies struct {
	byKey map[string]storedPolicy
	set   *policy.Set
}

// policySet returns the Set of the stored policies, decoding only those a new change
// wrote. mu must be held.
func (s *Site) policySet() *policy.Set {
	pc := &s.pols
	if pc.byKey == nil {
		pc.byKey = map[string]storedPolicy{}
	}
	keys := s.rep.Keys(crdt.KindPolicy, "")
	changed := len(keys) != len(pc.byKey) || pc.set == nil
	seen := make(map[string]bool, len(keys))
	for i, key := range keys {
		seen[key] = true
		v, ok := s.rep.Get(crdt.KindPolicy, key, "object")
		if old, had := pc.byKey[key]; had && ok && old.change == v.Change {
			continue
		}
		changed = true
		sp := storedPolicy{change: v.Change}
		switch {
		case !ok:
			sp.err = fmt.Errorf("policy %s has no object", key)
		case i >= MaxPolicies:
			sp.err = fmt.Errorf("policy %s: more than %d policies are stored; this one is beyond them in key order", key, MaxPolicies)
		default:
			sp.p, sp.err = decodeStored(key, v.Bytes)
		}
		pc.byKey[key] = sp
	}
	for key := range pc.byKey {
		if !seen[key] {
			delete(pc.byKey, key)
			changed = true
		}
	}
	if changed {
		var ps []*policy.Policy
		for _, key := range keys {
			if sp := pc.byKey[key]; sp.err == nil {
				ps = append(ps, sp.p)
			}
		}
		pc.set = policy.NewSet(ps)
	}
	return pc.set
}

// decodeStored decodes a stored policy and checks that it is the policy its key names.
func decodeStored(key string, object []byte) (*policy.Policy, error) {
	p, err := policy.Decode("policy "+key, object)
	if err != nil {
		return nil, err
	}
	if want := crdt.PolicyKey(p.Kind(), p.Namespace(), p.Name()); want != key {
		return nil, fmt.Errorf("policy %s: the object is %s, stored under another key", key, p)
	}
	return p, nil
}

// PolicyReport is one stored policy as this site reads it.
type PolicyReport struct {
	Key    string          `json:"key"`
	Object json.RawMessage `json:"object,omitempty"` // as stored
	Error  string          `json:"error,omitempty"`  // why it takes no part in placement
}

// policyReports lists the stored policies id may read (cluster-scoped ones, and those of
// namespaces it sees), each with whether it takes part. mu must be held.
func (s *Site) policyReports(id Identity) []PolicyReport {
	s.policySet()
	out := []PolicyReport{}
	for _, key := range slices.Sorted(maps.Keys(s.pols.byKey)) {
		if !authorize(id, resObject, crdt.KindPolicy, key).allowed() {
			continue
		}
		r := PolicyReport{Key: key}
		if v, ok := s.rep.Get(crdt.KindPolicy, key, "object"); ok {
			if served, _ := servedPolicy(v.Bytes); json.Valid([]byte(served)) {
				r.Object = json.RawMessage(served)
			}
		}
		if err := s.pols.byKey[key].err; err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}

// handlePolicies serves GET /v1/policies: the stored policies the caller may read.
func (s *Site) handlePolicies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := s.policyReports(identityOf(r))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// target is what a policy selects a workload by, read from its header fields: a site
// outside the workload's bound resolves it alike.
func target(key string, obj map[string]crdt.Value) (policy.Target, error) {
	ns, wname, _ := strings.Cut(key, "/")
	t := policy.Target{APIVersion: string(obj["apiVersion"].Bytes), Kind: string(obj["kind"].Bytes), Namespace: ns,
		Name: policy.ObjectName(string(obj["kind"].Bytes), wname)}
	if v, ok := obj["labels"]; ok && len(v.Bytes) > 0 {
		if err := json.Unmarshal(v.Bytes, &t.Labels); err != nil {
			return t, fmt.Errorf("labels: %w", err)
		}
	}
	return t, nil
}

// notPlaced is the condition of a workload no policy places.
const notPlaced = "not placed: no PropagationPolicy or ClusterPropagationPolicy selects it"

// resolve gives w its placement and overrides: from the stored policy that wins it, else
// from the placement and overrides stored with it (what atoll apply wrote before policies
// were stored), else none, and it is not placed. A winning policy whose bound is not the
// one the template was stored under is a residency refusal: the bound decides where the
// body may be, and it was decided when the template was written. A policy that divides
// what the charter's format level does not divide is a policy refusal. mu must be held.
func (s *Site) resolve(w *workload, key string, obj map[string]crdt.Value, pols *policy.Set, format int) (propagateDeps bool) {
	t, err := target(key, obj)
	if err != nil {
		w.err, w.refusal = fmt.Errorf("refused: %w", err), "policy"
		return false
	}
	res := pols.Resolve(t)
	switch {
	case res.PlacedBy != "":
		w.sched.Policy = res.Placement
		if err := cannotDivide(w, res.Placement, format); err != nil {
			w.err, w.refusal = fmt.Errorf("refused: %s: %w", res.PlacedBy, err), "policy"
			return false
		}
		if err := boundAgrees(res, w.render.Bound); err != nil {
			w.err, w.refusal = err, "residency"
			return false
		}
	case len(obj["placement"].Bytes) > 0:
		if err := json.Unmarshal(obj["placement"].Bytes, &w.sched.Policy); err != nil {
			w.err = fmt.Errorf("placement: %w", err)
			return false
		}
	default:
		w.unplaced = notPlaced
	}
	switch v, ok := obj["overrides"]; {
	case len(res.Overrides) > 0:
		b, err := json.Marshal(res.Overrides)
		if err != nil {
			w.err, w.refusal = fmt.Errorf("refused: overrides: %w", err), "policy"
			return false
		}
		w.render.Overrides = b
	case ok && !v.Redacted:
		w.render.Overrides = v.Bytes
	}
	w.render.Adopt = res.Overwrite
	return res.PropagateDeps
}

// cannotDivide refuses a placement that divides what a charter of format level format
// does not (policy.CannotDivide), an Indexed Job, and a Job stored without its
// parallelism as replicas (by a release before Jobs were divided): it would run whole in
// every cluster.
func cannotDivide(w *workload, p scheduler.Policy, format int) error {
	if err := policy.CannotDivide(w.kind, p, format); err != nil {
		return err
	}
	if err := policy.CannotDivideIndexed(w.kind, p, w.job.completionMode); err != nil {
		return err
	}
	if err := policy.CannotFailover(p, format); err != nil {
		return err
	}
	if rs := p.ReplicaScheduling; w.kind == "Job" && w.render.Replicas < 0 && rs != nil && rs.ReplicaSchedulingType == scheduler.Divided {
		return errors.New("its placement divides a Job stored without its parallelism as replicas (by an earlier release): apply it again")
	}
	return nil
}

// boundAgrees checks that the winning policy's bound, if it has one, is the template's.
func boundAgrees(res policy.Resolution, bound []string) error {
	switch {
	case len(res.Bound) == 0 || slices.Equal(res.Bound, bound):
		return nil
	case len(bound) == 0:
		return fmt.Errorf("refused: %s bounds it to %s, but its template was stored without a bound, so its body may be anywhere: apply it again through a site inside the bound",
			res.PlacedBy, strings.Join(res.Bound, ","))
	default:
		return fmt.Errorf("refused: %s bounds it to %s, but its template was stored bounded to %s", res.PlacedBy, strings.Join(res.Bound, ","), strings.Join(bound, ","))
	}
}
