package policy

import (
	"fmt"
	"slices"
	"strings"
)

// containerPaths locate the containers of the kinds that have them: Karmada's kinds and
// CronJob.
var containerPaths = map[string][]string{
	"Pod":         {"spec", "containers"},
	"Deployment":  {"spec", "template", "spec", "containers"},
	"StatefulSet": {"spec", "template", "spec", "containers"},
	"DaemonSet":   {"spec", "template", "spec", "containers"},
	"ReplicaSet":  {"spec", "template", "spec", "containers"},
	"Job":         {"spec", "template", "spec", "containers"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec", "containers"},
}

// containers returns the containers of an object of a kind that has them, each an
// object; nil if the kind has none or the list is absent.
func containers(obj map[string]any, kind string) ([]map[string]any, error) {
	p, ok := containerPaths[kind]
	if !ok {
		return nil, nil
	}
	v, ok := lookup(obj, p)
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list, found %s", strings.Join(p, "."), kindOf(v))
	}
	out := make([]map[string]any, len(l))
	for i, c := range l {
		if out[i], ok = c.(map[string]any); !ok {
			return nil, fmt.Errorf("containers[%d]: expected an object, found %s", i, kindOf(c))
		}
	}
	return out, nil
}

// containerNames lists the names of an object's containers.
func containerNames(obj map[string]any, kind string) []string {
	cs, _ := containers(obj, kind)
	var names []string
	for _, c := range cs {
		if n, ok := c["name"].(string); ok {
			names = append(names, n)
		}
	}
	return names
}

// applyImages applies an ImageOverrider: to the image at its predicate's path, or to
// every container's image.
func applyImages(obj map[string]any, kind string, o ImageOverrider) error {
	if o.Predicate != nil {
		toks, err := pointerTokens(o.Predicate.Path)
		if err != nil {
			return err
		}
		v, _ := lookup(obj, toks)
		image, ok := v.(string)
		if !ok {
			return fmt.Errorf("predicate.path %s: no image there", o.Predicate.Path)
		}
		out, err := overrideImage(image, o)
		if err != nil {
			return err
		}
		set(obj, toks, out)
		return nil
	}
	cs, err := containers(obj, kind)
	if err != nil {
		return err
	}
	for i, c := range cs {
		image, _ := c["image"].(string)
		out, err := overrideImage(image, o)
		if err != nil {
			return fmt.Errorf("containers[%d]: %w", i, err)
		}
		c["image"] = out
	}
	return nil
}

// applyCommandArgs applies a CommandArgsOverrider to the command or args (field) of
// the named containers. As in Karmada, a container without the field gets one, empty
// if nothing is added.
func applyCommandArgs(obj map[string]any, kind, field string, o CommandArgsOverrider) error {
	cs, err := containers(obj, kind)
	if err != nil {
		return err
	}
	for i, c := range cs {
		if c["name"] != o.ContainerName {
			continue
		}
		var cur []string
		if c[field] != nil {
			l, ok := c[field].([]any)
			if !ok {
				return fmt.Errorf("containers[%d].%s: expected a list, found %s", i, field, kindOf(c[field]))
			}
			for j, x := range l {
				s, ok := x.(string)
				if !ok {
					return fmt.Errorf("containers[%d].%s[%d]: expected a string, found %s", i, field, j, kindOf(x))
				}
				cur = append(cur, s)
			}
		}
		out := []any{}
		switch o.Operator {
		case OpAdd:
			for _, s := range slices.Concat(cur, o.Value) {
				out = append(out, s)
			}
		case OpRemove:
			for _, s := range cur {
				if !slices.Contains(o.Value, s) {
					out = append(out, s)
				}
			}
		}
		c[field] = out
	}
	return nil
}

// applyEnv applies an EnvOverrider to the env of the named containers.
func applyEnv(obj map[string]any, kind string, o EnvOverrider) error {
	cs, err := containers(obj, kind)
	if err != nil {
		return err
	}
	for i, c := range cs {
		if c["name"] != o.ContainerName {
			continue
		}
		var env []any
		if c["env"] != nil {
			var ok bool
			if env, ok = c["env"].([]any); !ok {
				return fmt.Errorf("containers[%d].env: expected a list, found %s", i, kindOf(c["env"]))
			}
		}
		find := func(name string) map[string]any {
			for _, e := range env {
				if m, ok := e.(map[string]any); ok && m["name"] == name {
					return m
				}
			}
			return nil
		}
		for _, v := range o.Value {
			e := find(v.Name)
			switch {
			case o.Operator == OpRemove && e != nil:
				env = slices.DeleteFunc(env, func(x any) bool { m, ok := x.(map[string]any); return ok && m["name"] == v.Name })
			case o.Operator != OpRemove && e != nil:
				e["value"] = v.Value
				delete(e, "valueFrom")
			case o.Operator == OpAdd:
				env = append(env, map[string]any{"name": v.Name, "value": v.Value})
			}
		}
		if env != nil {
			c["env"] = env
		}
	}
	return nil
}
