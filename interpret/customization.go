package interpret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/yuin/gopher-lua/parse"
	"sigs.k8s.io/yaml"
)

// Op is one operation a customization may define, by its field name in Karmada's format.
type Op string

// The operations, and the Lua function each script must define.
const (
	OpRetention        Op = "retention"                // Retain(desiredObj, observedObj)
	OpReplicaResource  Op = "replicaResource"          // GetReplicas(obj)
	OpReplicaRevision  Op = "replicaRevision"          // ReviseReplica(obj, desiredReplica)
	OpStatusReflection Op = "statusReflection"         // ReflectStatus(observedObj)
	OpStatusAggregate  Op = "statusAggregation"        // AggregateStatus(desiredObj, statusItems)
	OpHealth           Op = "healthInterpretation"     // InterpretHealth(observedObj)
	OpDependencies     Op = "dependencyInterpretation" // GetDependencies(desiredObj)
)

// functions maps each operation to its Lua function.
var functions = map[Op]string{
	OpRetention:        "Retain",
	OpReplicaResource:  "GetReplicas",
	OpReplicaRevision:  "ReviseReplica",
	OpStatusReflection: "ReflectStatus",
	OpStatusAggregate:  "AggregateStatus",
	OpHealth:           "InterpretHealth",
	OpDependencies:     "GetDependencies",
}

// Customization is one decoded ResourceInterpreterCustomization: the kind it interprets
// and a script per operation it customizes.
type Customization struct {
	Name       string
	APIVersion string // of the target kind, e.g. argoproj.io/v1alpha1
	Kind       string
	Scripts    map[Op]string
}

// The document's shape: Karmada's fields, and no others.
type document struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Target struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		} `json:"target"`
		Customizations map[string]json.RawMessage `json:"customizations"`
	} `json:"spec"`
}

// Decode reads one customization from YAML or JSON, refusing unknown fields, unknown or
// unsupported operations, scripts that do not parse or do not define their function, and
// anything over the bounds; each error names its field.
func Decode(b []byte) (*Customization, error) {
	if len(b) > MaxCustomizationBytes {
		return nil, fmt.Errorf("customization: %d bytes, above the limit of %d", len(b), MaxCustomizationBytes)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("customization: %w", err)
	}
	var d document
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("customization: %w", err)
	}
	name := d.Metadata.Name
	switch {
	case d.APIVersion != "config.karmada.io/v1alpha1" || d.Kind != "ResourceInterpreterCustomization":
		return nil, fmt.Errorf("customization %s: apiVersion/kind %s/%s, want config.karmada.io/v1alpha1 ResourceInterpreterCustomization", name, d.APIVersion, d.Kind)
	case name == "":
		return nil, errors.New("customization: metadata.name is required")
	case d.Spec.Target.APIVersion == "" || d.Spec.Target.Kind == "":
		return nil, fmt.Errorf("customization %s: spec.target.apiVersion and spec.target.kind are required", name)
	case len(d.Spec.Customizations) == 0:
		return nil, fmt.Errorf("customization %s: spec.customizations is empty", name)
	}
	c := &Customization{Name: name, APIVersion: d.Spec.Target.APIVersion, Kind: d.Spec.Target.Kind, Scripts: map[Op]string{}}
	ops := make([]string, 0, len(d.Spec.Customizations))
	for op := range d.Spec.Customizations {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		field := "spec.customizations." + op
		fn, ok := functions[Op(op)]
		if !ok {
			return nil, fmt.Errorf("customization %s: %s: not an operation Atoll interprets (known: %s)", name, field, known())
		}
		var s struct {
			LuaScript string `json:"luaScript"`
		}
		dec := json.NewDecoder(bytes.NewReader(d.Spec.Customizations[op]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("customization %s: %s: %w", name, field, err)
		}
		if err := checkScript(s.LuaScript, fn); err != nil {
			return nil, fmt.Errorf("customization %s: %s.luaScript: %w", name, field, err)
		}
		c.Scripts[Op(op)] = s.LuaScript
	}
	return c, nil
}

// checkScript parses a script and checks that running it defines fn, in the sandbox.
func checkScript(script, fn string) error {
	switch {
	case strings.TrimSpace(script) == "":
		return errors.New("empty")
	case len(script) > MaxScriptBytes:
		return fmt.Errorf("%d bytes, above the limit of %d", len(script), MaxScriptBytes)
	}
	if _, err := parse.Parse(strings.NewReader(script), "script"); err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	return define(script, fn)
}

func known() string {
	var out []string
	for op := range functions {
		out = append(out, string(op))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
