package policy

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// applyPlaintext applies plaintext overriders as one JSON patch, as Karmada does. Karmada
// uses json-patch v5, whose replace refuses a missing object member; v4 would add it, so
// that case is checked here first.
func applyPlaintext(obj map[string]any, ops []PlaintextOverrider) (map[string]any, error) {
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	for i, o := range ops {
		if o.Operator == OpReplace {
			var cur any
			if err := utiljson.Unmarshal(doc, &cur); err != nil {
				return nil, err
			}
			toks, err := pointerTokens(o.Path)
			if err != nil {
				return nil, fmt.Errorf("plaintext[%d]: %w", i, err)
			}
			if _, ok := lookup(cur, toks); !ok {
				return nil, fmt.Errorf("plaintext[%d]: replace %s: nothing there to replace", i, o.Path)
			}
		}
		op := patchOp{Op: o.Operator, Path: o.Path, Value: o.Value}
		if o.Operator == OpRemove {
			op.Value = nil
		}
		b, err := json.Marshal([]patchOp{op})
		if err != nil {
			return nil, err
		}
		patch, err := jsonpatch.DecodePatch(b)
		if err == nil {
			doc, err = patch.Apply(doc)
		}
		if err != nil {
			return nil, fmt.Errorf("plaintext[%d]: %s %s: %w", i, o.Operator, o.Path, err)
		}
	}
	var out map[string]any
	if err := utiljson.Unmarshal(doc, &out); err != nil {
		return nil, err
	}
	return out, nil
}
