package policy

import (
	"fmt"
	"maps"
	"slices"
)

// ruleNotes tells what a rule will not do to a manifest: overriders of containers on a
// kind without any, container names the manifest lacks, and overriders that fail on the
// manifest as written (Apply would fail for the clusters the rule selects, unless an
// earlier rule prepares the object).
func ruleNotes(m *manifest, r Rule) []string {
	var notes []string
	o := r.Overriders
	named := map[string][]string{}
	for i, x := range o.CommandOverrider {
		named[x.ContainerName] = append(named[x.ContainerName], fmt.Sprintf("commandOverrider[%d]", i))
	}
	for i, x := range o.ArgsOverrider {
		named[x.ContainerName] = append(named[x.ContainerName], fmt.Sprintf("argsOverrider[%d]", i))
	}
	for i, x := range o.EnvOverrider {
		named[x.ContainerName] = append(named[x.ContainerName], fmt.Sprintf("envOverrider[%d]", i))
	}
	allImages := slices.ContainsFunc(o.ImageOverrider, func(x ImageOverrider) bool { return x.Predicate == nil })
	if _, ok := containerPaths[m.Kind]; !ok {
		if allImages || len(named) > 0 {
			notes = append(notes, fmt.Sprintf("%s has no containers: the overriders of containers do nothing to it", m))
		}
	} else {
		have := containerNames(m.obj.Map, m.Kind)
		for _, name := range slices.Sorted(maps.Keys(named)) {
			if !slices.Contains(have, name) {
				for _, which := range named[name] {
					notes = append(notes, fmt.Sprintf("%s: %s has no container %q", which, m, name))
				}
			}
		}
	}
	obj, err := copyJSON(m.body())
	if err == nil {
		_, err = applyRule(obj, m.Kind, r)
	}
	if err != nil {
		notes = append(notes, fmt.Sprintf("does not apply to %s as written: %v", m, err))
	}
	return notes
}
