package policy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Atoll's extensions to Karmada's policies, as annotations. AnnotationBound may also be
// set on a manifest.
const (
	// AnnotationBound lists the jurisdictions a workload may run in: "EU,CH".
	AnnotationBound = "atoll.io/bound"
	// AnnotationTakeover is "true" or "false": scheduler.Policy.Takeover.
	AnnotationTakeover = "atoll.io/takeover"
	// AnnotationMaxSurge is a count ("3") or a percentage ("50%"): scheduler.Policy.MaxSurge.
	AnnotationMaxSurge = "atoll.io/max-surge"
)

// atollPrefix marks annotations Atoll reads; unknown ones are refused, to catch typos.
const atollPrefix = "atoll.io/"

var jurisdiction = regexp.MustCompile(`^[A-Za-z0-9-]{1,63}$`)

// parseBound reads a list of jurisdictions, returned sorted.
func parseBound(s string) ([]string, error) {
	var out []string
	for j := range strings.SplitSeq(s, ",") {
		j = strings.TrimSpace(j)
		if !jurisdiction.MatchString(j) {
			return nil, fmt.Errorf("jurisdiction %q: want 1 to 63 letters, digits or '-', comma-separated", j)
		}
		if slices.Contains(out, j) {
			return nil, fmt.Errorf("jurisdiction %q listed twice", j)
		}
		out = append(out, j)
	}
	slices.Sort(out)
	return out, nil
}

var surge = regexp.MustCompile(`^([0-9]{1,9})(%?)$`)

// checkMaxSurge accepts a count of replicas or a percentage from 0% to 100%.
func checkMaxSurge(s string) error {
	m := surge.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%q: want a count of replicas (\"3\") or a percentage (\"50%%\")", s)
	}
	if n, _ := strconv.Atoi(m[1]); m[2] == "%" && n > 100 {
		return fmt.Errorf("%q: a percentage of the desired replicas is at most 100%%", s)
	}
	return nil
}

// atollAnnotations is what a policy's or a manifest's atoll.io annotations say.
type atollAnnotations struct {
	bound    []string
	takeover *bool
	maxSurge string
}

// readAnnotations parses the atoll.io annotations among ann, allowing only the keys in
// allowed; errors name the annotation's path.
func readAnnotations(ann map[string]string, allowed []string) (atollAnnotations, []error) {
	var a atollAnnotations
	var errs []error
	p := fieldPath{"metadata", "annotations"}
	for _, k := range slices.Sorted(maps.Keys(ann)) {
		v := ann[k]
		if !strings.HasPrefix(k, atollPrefix) {
			continue
		}
		q := p.key(k)
		if !slices.Contains(allowed, k) {
			errs = append(errs, errAt(q, "unknown Atoll annotation; here Atoll reads %s", strings.Join(allowed, ", ")))
			continue
		}
		switch k {
		case AnnotationBound:
			b, err := parseBound(v)
			if err != nil {
				errs = append(errs, errAt(q, "%v", err))
			}
			a.bound = b
		case AnnotationTakeover:
			if v != "true" && v != "false" {
				errs = append(errs, errAt(q, "%q: want \"true\" or \"false\"", v))
			}
			t := v == "true"
			a.takeover = &t
		case AnnotationMaxSurge:
			if err := checkMaxSurge(v); err != nil {
				errs = append(errs, errAt(q, "%v", err))
			}
			a.maxSurge = v
		}
	}
	return a, errs
}
