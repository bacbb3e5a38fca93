package policy

import "fmt"

// applyLabelAnnotation applies a LabelAnnotationOverrider to metadata.labels or
// metadata.annotations (field), as Karmada does: add sets every key (creating the map),
// replace sets the keys present, remove deletes the keys present whatever their value.
func applyLabelAnnotation(obj map[string]any, field string, o LabelAnnotationOverrider) error {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok && obj["metadata"] != nil {
		return fmt.Errorf("metadata: expected an object, found %s", kindOf(obj["metadata"]))
	}
	cur, ok := meta[field].(map[string]any)
	if !ok && meta[field] != nil {
		return fmt.Errorf("metadata.%s: expected an object, found %s", field, kindOf(meta[field]))
	}
	if o.Operator == OpAdd && cur == nil {
		if meta == nil {
			meta = map[string]any{}
			obj["metadata"] = meta
		}
		cur = map[string]any{}
		meta[field] = cur
	}
	for k, v := range o.Value {
		_, present := cur[k]
		switch {
		case o.Operator == OpAdd, o.Operator == OpReplace && present:
			cur[k] = v
		case o.Operator == OpRemove && present:
			delete(cur, k)
		}
	}
	return nil
}
