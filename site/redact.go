package site

import (
	"encoding/json"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"atoll/crdt"
)

// What the read API withholds (docs/SECURITY.md, "Secret values are never served").
// The reconciler renders from the replica's fields as stored; only what GET
// /v1/objects hands out passes through servedObject.
const (
	// WithheldSealed: a bounded workload's body. Never served, to anyone, at any site;
	// ObjectField.Hash is the body hash of the signed header.
	WithheldSealed = "sealed"
	// WithheldSecret: the value is served with every Secret value replaced by a marker.
	WithheldSecret = "secret values"
	// WithheldOpaque: a body Atoll cannot parse, so cannot redact: only a marker is served.
	WithheldOpaque = "opaque"
)

// lastApplied is kubectl's annotation: on a Secret it holds the Secret, values included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// servedObject returns an object's fields as GET /v1/objects serves them: header fields
// as stored, a workload's body fields redacted (servedBody), sealed bodies never.
func servedObject(kind crdt.Kind, obj map[string]crdt.Value) map[string]ObjectField {
	secret := kind == crdt.KindWorkload && workloadIsSecret(obj)
	out := make(map[string]ObjectField, len(obj))
	for f, v := range obj {
		of := ObjectField{Sealed: v.Sealed, Redacted: v.Redacted, Lamport: v.Lamport}
		switch {
		case v.Sealed:
			of.Withheld, of.Hash = WithheldSealed, v.BodyHash.Hex()
		case kind == crdt.KindWorkload && crdt.IsBodyField(f):
			of.Value, of.Withheld = servedBody(f, v.Bytes, secret)
		case kind == crdt.KindPolicy:
			of.Value, of.Withheld = servedPolicy(v.Bytes)
		default:
			of.Value = string(v.Bytes)
		}
		out[f] = of
	}
	return out
}

// workloadIsSecret: the workload's kind, or its template's (when this site may read
// it), is Secret.
func workloadIsSecret(obj map[string]crdt.Value) bool {
	if isSecretKind(string(obj["kind"].Bytes)) {
		return true
	}
	t, ok := obj["template"]
	if !ok || t.Sealed {
		return false
	}
	var m map[string]any
	return yaml.Unmarshal(t.Bytes, &m) == nil && isSecret(m)
}

// servedBody returns an unsealed body field as served, and what was withheld from it:
// a template with every Secret's values replaced; overrides likewise, and, for a Secret
// workload, every plaintext overrider's value; anything else (body/*, or what does not
// parse) only as a marker of its length.
func servedBody(field string, b []byte, secret bool) (value, withheld string) {
	var doc any
	if yaml.Unmarshal(b, &doc) != nil {
		return marker(len(b)), WithheldOpaque
	}
	changed := false
	switch field {
	case "template":
		changed = redactSecrets(doc)
	case "overrides":
		changed = redactSecrets(doc)
		if secret && redactPlaintext(doc) {
			changed = true
		}
	default:
		return marker(len(b)), WithheldOpaque
	}
	// Raw bytes only when they are exactly what was parsed: one JSON value. YAML (a
	// hand-signed template) may hold more documents than the first, which was checked.
	if !changed && json.Valid(b) {
		return string(b), ""
	}
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // markers read <redacted: N bytes>
	if enc.Encode(doc) != nil {
		return marker(len(b)), WithheldOpaque
	}
	if changed {
		withheld = WithheldSecret
	}
	return strings.TrimSuffix(out.String(), "\n"), withheld
}

// redactSecrets replaces, in every object of v with kind Secret (whatever its
// apiVersion, nested in a List or not), each value of data and stringData, and kubectl's
// last-applied annotation, by a marker. It reports whether it replaced anything.
func redactSecrets(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if isSecret(x) {
			for _, f := range []string{"data", "stringData"} {
				if redactValues(x, f) {
					changed = true
				}
			}
			if md, ok := x["metadata"].(map[string]any); ok {
				if ann, ok := md["annotations"].(map[string]any); ok {
					if a, ok := ann[lastApplied]; ok {
						ann[lastApplied], changed = markerOf(a), true
					}
				}
			}
		}
		for _, c := range x {
			if redactSecrets(c) {
				changed = true
			}
		}
	case []any:
		for _, c := range x {
			if redactSecrets(c) {
				changed = true
			}
		}
	}
	return changed
}

// redactValues replaces each value of the map m[f] (keys kept), or m[f] itself if it is
// not a map.
func redactValues(m map[string]any, f string) bool {
	v, ok := m[f]
	if !ok || v == nil {
		return false
	}
	vals, isMap := v.(map[string]any)
	if !isMap {
		m[f] = markerOf(v)
		return true
	}
	for k, val := range vals {
		vals[k] = markerOf(val)
	}
	return len(vals) > 0
}

// servedPolicy returns a stored policy object as served: an override policy that may
// select a Secret (a resource selector of kind Secret) without the values of its
// plaintext overriders, which may be the Secret's; what does not parse only as a marker.
func servedPolicy(b []byte) (value, withheld string) {
	var doc map[string]any
	if json.Unmarshal(b, &doc) != nil {
		return marker(len(b)), WithheldOpaque
	}
	spec, _ := doc["spec"].(map[string]any)
	sels, _ := spec["resourceSelectors"].([]any)
	secret := false
	for _, s := range sels {
		if sel, ok := s.(map[string]any); ok && isSecret(sel) {
			secret = true
		}
	}
	if !secret {
		return string(b), ""
	}
	rules, _ := spec["overrideRules"].([]any)
	changed := redactPlaintext(rules)
	if ov, ok := spec["overriders"]; ok && redactPlaintext([]any{map[string]any{"overriders": ov}}) {
		changed = true
	}
	if !changed {
		return string(b), ""
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return marker(len(b)), WithheldOpaque
	}
	return string(out), WithheldSecret
}

// redactPlaintext replaces the value of every plaintext overrider of every rule.
func redactPlaintext(doc any) bool {
	rules, _ := doc.([]any)
	changed := false
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		ov, _ := rule["overriders"].(map[string]any)
		ops, _ := ov["plaintext"].([]any)
		for _, o := range ops {
			if op, ok := o.(map[string]any); ok {
				if v, ok := op["value"]; ok {
					op["value"], changed = markerOf(v), true
				}
			}
		}
	}
	return changed
}

func isSecret(m map[string]any) bool {
	k, _ := m["kind"].(string)
	return isSecretKind(k)
}

func isSecretKind(kind string) bool { return strings.EqualFold(kind, "Secret") }

// markerOf is the marker for one value: its length as written (a string's bytes, else
// its JSON encoding's).
func markerOf(v any) string {
	if s, ok := v.(string); ok {
		return marker(len(s))
	}
	b, _ := json.Marshal(v)
	return marker(len(b))
}

func marker(n int) string { return "<redacted: " + strconv.Itoa(n) + " bytes>" }
