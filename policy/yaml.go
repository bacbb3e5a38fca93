package policy

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// maxNodes bounds the values one document may expand to through aliases.
const maxNodes = 1 << 20

// posError is a problem at a line of the file being read.
type posError struct {
	line int
	msg  string
}

func (e *posError) Error() string { return strconv.Itoa(e.line) + ": " + e.msg }

func errLine(n *yaml.Node, format string, args ...any) *posError {
	return &posError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// converter turns a YAML node tree into JSON-compatible values: maps with string keys,
// []any, string, int64, float64, bool and nil. Timestamps stay strings, as Kubernetes
// reads them; merge keys ("<<") are expanded; duplicate keys, non-scalar keys, custom
// tags and values JSON cannot hold are errors.
type converter struct {
	nodes  int
	active map[*yaml.Node]bool // anchors being expanded, to refuse an alias to itself
}

func (c *converter) value(n *yaml.Node) (any, error) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, errLine(n, "document expands to more than %d values (aliases)", maxNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if c.active == nil {
			c.active = map[*yaml.Node]bool{}
		}
		if n.Alias == nil || c.active[n.Alias] {
			return nil, errLine(n, "alias *%s refers to itself", n.Value)
		}
		c.active[n.Alias] = true
		defer delete(c.active, n.Alias)
		return c.value(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, errLine(n, "unexpected YAML node")
}

func (c *converter) mapping(n *yaml.Node) (map[string]any, error) {
	out := map[string]any{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := keyString(k)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, errLine(k, "duplicate key %q", key)
		}
		if out[key], err = c.value(v); err != nil {
			return nil, err
		}
	}
	// Explicit keys win over merged ones, and earlier merged maps over later ones.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if resolveAlias(m).Kind == yaml.SequenceNode {
			srcs = resolveAlias(m).Content
		}
		for _, s := range srcs {
			if resolveAlias(s).Kind != yaml.MappingNode {
				return nil, errLine(s, "a merge key (<<) takes a mapping or a list of mappings")
			}
			v, err := c.value(s)
			if err != nil {
				return nil, err
			}
			for k, x := range v.(map[string]any) {
				if _, ok := out[k]; !ok {
					out[k] = x
				}
			}
		}
	}
	return out, nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func keyString(k *yaml.Node) (string, error) {
	k = resolveAlias(k)
	if k.Kind != yaml.ScalarNode {
		return "", errLine(k, "a mapping key must be a scalar")
	}
	switch k.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return k.Value, nil
	case "!!null":
		return "null", nil // as Kubernetes' YAML-to-JSON conversion names it
	}
	return "", errLine(k, "mapping key %q with tag %s: keys must be strings", k.Value, k.ShortTag())
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, errLine(n, "%q: not a boolean", n.Value)
		}
		return b, nil
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, errLine(n, "%q: not an integer", n.Value)
		}
		switch v := v.(type) {
		case int:
			return int64(v), nil
		case int64:
			return v, nil
		case uint64:
			if v <= math.MaxInt64 {
				return int64(v), nil
			}
		case float64:
			return checkFloat(n, v)
		}
		return nil, errLine(n, "integer %s out of range", n.Value)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			if f, err = strconv.ParseFloat(n.Value, 64); err != nil {
				return nil, errLine(n, "%q: not a number", n.Value)
			}
		}
		return checkFloat(n, f)
	}
	return nil, errLine(n, "%q: YAML tag %s is not supported", n.Value, n.Tag)
}

func checkFloat(n *yaml.Node, f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errLine(n, "%s: JSON cannot hold this number", n.Value)
	}
	return f, nil
}

// lineOf returns the line of the field at p under n (a map entry's key line), or of the
// deepest part of p that exists; 0 when n is nil.
func lineOf(n *yaml.Node, p fieldPath) int {
	if n == nil {
		return 0
	}
	n = resolveAlias(n)
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, e := range p {
		n = resolveAlias(n)
		switch e := e.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Value == e && k.ShortTag() != "!!merge" {
					line, n, found = k.Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || e < 0 || e >= len(n.Content) {
				return line
			}
			n = n.Content[e]
			line = n.Line
		}
	}
	return line
}

// yamlLine finds the line in a go-yaml parse error ("yaml: line 3: did not find ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseError names the file and, when go-yaml gives one, the line of a syntax error.
func parseError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: malformed YAML: %s", file, m[1], m[2])
	}
	return fmt.Errorf("%s: malformed YAML: %v", file, err)
}
