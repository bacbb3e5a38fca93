package policy

import (
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"atoll/scheduler"
)

// Apply applies override rules to u, an object rendered for cluster c: in order, every
// rule whose TargetCluster selects c (nil selects every cluster). Within a rule the
// overriders apply in Karmada's order (image, command, args, labels, annotations) then
// Atoll's env, then plaintext; each overrider's entries in order.
//
// The rules are validated first (they may have been stored by anyone). On error u is
// unchanged, and the error names the rule's index and source and the overrider.
func Apply(u *unstructured.Unstructured, rules []Rule, c *scheduler.Cluster) error {
	if c == nil {
		return errors.New("apply overrides: no cluster")
	}
	if len(u.Object) == 0 {
		return errors.New("apply overrides: empty object")
	}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("%s: %w", ruleName(i, r), err)
		}
	}
	obj, err := copyJSON(u.Object)
	if err != nil {
		return fmt.Errorf("apply overrides: %w", err)
	}
	kind := u.GetKind()
	for i, r := range rules {
		if !r.TargetCluster.Matches(c) {
			continue
		}
		if obj, err = applyRule(obj, kind, r); err != nil {
			return fmt.Errorf("%s: %w", ruleName(i, r), err)
		}
	}
	u.Object = obj
	return nil
}

func ruleName(i int, r Rule) string {
	if r.Source == "" {
		return fmt.Sprintf("rule %d", i)
	}
	return fmt.Sprintf("rule %d (%s)", i, r.Source)
}

// copyJSON deep-copies an object through JSON, numbers becoming int64 or float64.
func copyJSON(obj map[string]any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := utiljson.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// applyRule applies one rule's overriders to obj, an object of the kind.
func applyRule(obj map[string]any, kind string, r Rule) (map[string]any, error) {
	o := r.Overriders
	for i, x := range o.ImageOverrider {
		if err := applyImages(obj, kind, x); err != nil {
			return nil, fmt.Errorf("imageOverrider[%d]: %w", i, err)
		}
	}
	for i, x := range o.CommandOverrider {
		if err := applyCommandArgs(obj, kind, "command", x); err != nil {
			return nil, fmt.Errorf("commandOverrider[%d]: %w", i, err)
		}
	}
	for i, x := range o.ArgsOverrider {
		if err := applyCommandArgs(obj, kind, "args", x); err != nil {
			return nil, fmt.Errorf("argsOverrider[%d]: %w", i, err)
		}
	}
	for i, x := range o.LabelsOverrider {
		if err := applyLabelAnnotation(obj, "labels", x); err != nil {
			return nil, fmt.Errorf("labelsOverrider[%d]: %w", i, err)
		}
	}
	for i, x := range o.AnnotationsOverrider {
		if err := applyLabelAnnotation(obj, "annotations", x); err != nil {
			return nil, fmt.Errorf("annotationsOverrider[%d]: %w", i, err)
		}
	}
	for i, x := range o.EnvOverrider {
		if err := applyEnv(obj, kind, x); err != nil {
			return nil, fmt.Errorf("envOverrider[%d]: %w", i, err)
		}
	}
	if len(o.Plaintext) == 0 {
		return obj, nil
	}
	return applyPlaintext(obj, o.Plaintext)
}
