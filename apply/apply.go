// Package apply turns what an apply resolved (package policy: workloads and policies)
// into the operations that store them in the replicated state, one change per bound.
// atoll apply and a site's Kubernetes API (site/fedsync) write through it, so a template
// or a policy is stored alike whichever way it came. It is pure: it signs and sends
// nothing.
package apply

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"atoll/crdt"
	"atoll/policy"
)

// Change is one signed write of an apply: the workloads that share a bound, and with
// the unbounded ones the policies.
type Change struct {
	Keys   []string // the workloads' and policies' keys
	Bound  []string
	Ops    []crdt.Op
	Bodies [][]byte // of the sealed ops, in order
}

// Changes turns workloads and policies into one change per distinct bound (a
// change has one bound for its sealed bodies), checking sizes before anything is sent.
// The policies go in the unbounded change, which is submitted first.
func Changes(ws []policy.Workload, ps []*policy.Policy) ([]Change, error) {
	byBound := map[string]*Change{}
	var order []string
	changeFor := func(bound []string) *Change {
		b := strings.Join(bound, ",")
		ch := byBound[b]
		if ch == nil {
			ch = &Change{Bound: bound}
			byBound[b] = ch
			order = append(order, b)
		}
		return ch
	}
	for _, p := range ps {
		ch := changeFor(nil)
		obj, err := p.Object()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		key := crdt.PolicyKey(p.Kind(), p.Namespace(), p.Name())
		ch.Keys = append(ch.Keys, key)
		ch.Ops = append(ch.Ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindPolicy, Key: key, Field: "object", Value: obj})
	}
	for _, w := range ws {
		ch := changeFor(w.Bound)
		ch.Keys = append(ch.Keys, w.Key)
		set := func(f, v string) {
			ch.Ops = append(ch.Ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: w.Key, Field: f, Value: []byte(v)})
		}
		del := func(f string) {
			ch.Ops = append(ch.Ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindWorkload, Key: w.Key, Field: f})
		}
		set("apiVersion", w.APIVersion)
		set("kind", w.Kind)
		if w.Replicas >= 0 {
			set("replicas", strconv.Itoa(w.Replicas))
		} else {
			del("replicas")
		}
		if len(w.Labels) > 0 {
			labels, err := json.Marshal(w.Labels)
			if err != nil {
				return nil, err
			}
			set("labels", string(labels))
		} else {
			del("labels")
		}
		// The stored policies place and override it: what an earlier release stored with
		// the workload goes.
		del("placement")
		del("overrides")
		if len(w.Bound) > 0 {
			set("bound", strings.Join(w.Bound, ","))
			ch.Ops = append(ch.Ops, crdt.SealOp(crdt.KindWorkload, w.Key, "template", w.Template))
			ch.Bodies = append(ch.Bodies, w.Template)
		} else {
			del("bound")
			set("template", string(w.Template))
		}
	}
	out := make([]Change, 0, len(order))
	for _, b := range slices.Sorted(slices.Values(order)) {
		out = append(out, *byBound[b])
	}
	return out, nil
}

// Check signs each change with a throwaway key and decodes it as a site would, so that a
// change over the format's limits fails before anything is sent.
func Check(changes []Change) error {
	probe := crdt.SignerFromSeed(make([]byte, 32))
	for _, ch := range changes {
		env, err := crdt.Sign(&crdt.Change{Lamport: 1, Ops: ch.Ops, Bound: ch.Bound}, ch.Bodies, probe)
		if err == nil {
			_, err = crdt.DecodeEnvelope(env.Encode())
		}
		if err != nil {
			return fmt.Errorf("workloads %s: %w (apply fewer or smaller manifests at once)", strings.Join(ch.Keys, ", "), err)
		}
	}
	return nil
}
