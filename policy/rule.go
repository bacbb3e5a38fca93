package policy

import (
	"errors"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks a rule as Resolve does: Atoll stores rules with workloads and Apply
// calls Validate first, since the stored JSON may come from anywhere.
func (r Rule) Validate() error {
	return errors.Join(validateRule(r, nil)...)
}

func validateRule(r Rule, at fieldPath) []error {
	var errs []error
	if err := r.TargetCluster.Validate(); err != nil {
		errs = append(errs, errAt(at.key("targetCluster"), "%v", err))
	}
	o, oat := r.Overriders, at.key("overriders")
	if o.empty() {
		errs = append(errs, errAt(oat, "no overriders: the rule overrides nothing"))
	}
	for i, x := range o.ImageOverrider {
		errs = append(errs, validateImage(x, oat.key("imageOverrider").index(i))...)
	}
	for i, x := range o.CommandOverrider {
		errs = append(errs, validateCommandArgs(x, oat.key("commandOverrider").index(i))...)
	}
	for i, x := range o.ArgsOverrider {
		errs = append(errs, validateCommandArgs(x, oat.key("argsOverrider").index(i))...)
	}
	for i, x := range o.LabelsOverrider {
		errs = append(errs, validateLabelAnnotation(x, true, oat.key("labelsOverrider").index(i))...)
	}
	for i, x := range o.AnnotationsOverrider {
		errs = append(errs, validateLabelAnnotation(x, false, oat.key("annotationsOverrider").index(i))...)
	}
	for i, x := range o.EnvOverrider {
		errs = append(errs, validateEnv(x, oat.key("envOverrider").index(i))...)
	}
	for i, x := range o.Plaintext {
		errs = append(errs, validatePlaintext(x, oat.key("plaintext").index(i))...)
	}
	return errs
}

func (o Overriders) empty() bool {
	return len(o.Plaintext)+len(o.ImageOverrider)+len(o.CommandOverrider)+len(o.ArgsOverrider)+
		len(o.LabelsOverrider)+len(o.AnnotationsOverrider)+len(o.EnvOverrider) == 0
}

func checkOperator(op string, at fieldPath, allowed ...string) []error {
	if slices.Contains(allowed, op) {
		return nil
	}
	return []error{errAt(at.key("operator"), "%q: want one of %v", op, allowed)}
}

func validateImage(o ImageOverrider, at fieldPath) []error {
	errs := checkOperator(o.Operator, at, OpAdd, OpRemove, OpReplace)
	if o.Predicate != nil && (len(o.Predicate.Path) < 2 || o.Predicate.Path[0] != '/') {
		errs = append(errs, errAt(at.key("predicate").key("path"), "%q: want a JSON pointer such as /spec/template/spec/containers/0/image", o.Predicate.Path))
	}
	value := func(re interface{ MatchString(string) bool }, what string) {
		if !re.MatchString(o.Value) {
			errs = append(errs, errAt(at.key("value"), "%q is not %s", o.Value, what))
		}
	}
	switch o.Component {
	case Registry, Repository, Tag:
	default:
		return append(errs, errAt(at.key("component"), "%q: want Registry, Repository or Tag", o.Component))
	}
	switch {
	case o.Operator == OpRemove && o.Value != "":
		errs = append(errs, errAt(at.key("value"), "must be empty with operator remove"))
	case o.Operator == OpRemove && o.Component == Repository:
		errs = append(errs, errAt(at.key("component"), "removing the Repository would leave no image name"))
	case o.Operator != OpRemove && o.Value == "":
		errs = append(errs, errAt(at.key("value"), "required with operator %s", o.Operator))
	case o.Operator == OpReplace && o.Component == Registry:
		value(domainRe, "a registry host[:port]")
	case o.Operator == OpReplace && o.Component == Repository:
		value(remoteNameRe, "a repository name")
	case o.Operator == OpReplace && o.Component == Tag:
		value(anyOf{tagRe, digestRe}, "a tag or a digest")
	case o.Operator == OpAdd && o.Component == Tag:
		value(tagCharsRe, "a tag suffix (letters, digits, '_', '.', '-')")
	}
	return errs
}

// anyOf matches what any of its expressions matches.
type anyOf []interface{ MatchString(string) bool }

func (a anyOf) MatchString(s string) bool {
	return slices.ContainsFunc(a, func(re interface{ MatchString(string) bool }) bool { return re.MatchString(s) })
}

func validateCommandArgs(o CommandArgsOverrider, at fieldPath) []error {
	errs := checkOperator(o.Operator, at, OpAdd, OpRemove)
	if o.ContainerName == "" {
		errs = append(errs, errAt(at.key("containerName"), "required"))
	}
	return errs
}

func validateLabelAnnotation(o LabelAnnotationOverrider, labels bool, at fieldPath) []error {
	errs := checkOperator(o.Operator, at, OpAdd, OpRemove, OpReplace)
	for _, k := range sortedKeys(o.Value) {
		q := at.key("value").key(k)
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, errAt(q, "key %q: %s", k, msg))
		}
		if labels && o.Operator != OpRemove {
			for _, msg := range validation.IsValidLabelValue(o.Value[k]) {
				errs = append(errs, errAt(q, "value %q: %s", o.Value[k], msg))
			}
		}
	}
	return errs
}

func validateEnv(o EnvOverrider, at fieldPath) []error {
	errs := checkOperator(o.Operator, at, OpAdd, OpRemove, OpReplace)
	if o.ContainerName == "" {
		errs = append(errs, errAt(at.key("containerName"), "required"))
	}
	var names []string
	for i, v := range o.Value {
		q := at.key("value").index(i)
		for _, msg := range validation.IsEnvVarName(v.Name) {
			errs = append(errs, errAt(q.key("name"), "%q: %s", v.Name, msg))
		}
		if slices.Contains(names, v.Name) {
			errs = append(errs, errAt(q.key("name"), "%q listed twice", v.Name))
		}
		names = append(names, v.Name)
		if o.Operator == OpRemove && v.Value != "" {
			errs = append(errs, errAt(q.key("value"), "must be empty with operator remove"))
		}
	}
	return errs
}

func validatePlaintext(o PlaintextOverrider, at fieldPath) []error {
	errs := checkOperator(o.Operator, at, OpAdd, OpRemove, OpReplace)
	if len(o.Path) < 2 || o.Path[0] != '/' {
		errs = append(errs, errAt(at.key("path"), "%q: want a JSON pointer such as /spec/replicas", o.Path))
	}
	hasValue := len(o.Value) > 0 && string(o.Value) != "null"
	switch {
	case o.Operator == OpRemove && hasValue:
		errs = append(errs, errAt(at.key("value"), "must be empty with operator remove"))
	case o.Operator != OpRemove && !hasValue:
		errs = append(errs, errAt(at.key("value"), "required with operator %s", o.Operator))
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
