package scheduler

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Matches reports whether the affinity selects the cluster. A nil affinity selects all;
// a malformed one (see Validate) selects none.
func (a *ClusterAffinity) Matches(c *Cluster) bool {
	m, err := compile(a)
	return err == nil && m.matches(c)
}

// matcher is a compiled ClusterAffinity.
type matcher struct {
	a   *ClusterAffinity
	sel labels.Selector
}

func compile(a *ClusterAffinity) (matcher, error) {
	m := matcher{a: a}
	if a != nil && a.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(a.LabelSelector)
		if err != nil {
			return m, fmt.Errorf("labelSelector: %w", err)
		}
		m.sel = sel
	}
	return m, nil
}

func (m matcher) matches(c *Cluster) bool {
	a := m.a
	if a == nil {
		return true
	}
	named := func(names []string) bool {
		return slices.Contains(names, c.Name) || slices.Contains(names, c.Site+"/"+c.Name)
	}
	if len(a.ClusterNames) > 0 && !named(a.ClusterNames) {
		return false
	}
	if named(a.ExcludeClusters) {
		return false
	}
	if m.sel != nil && !m.sel.Matches(labels.Set(c.Labels)) {
		return false
	}
	if a.FieldSelector != nil {
		for _, r := range a.FieldSelector.MatchExpressions {
			v, ok := c.Field(r.Key)
			if !r.matches(v, ok) {
				return false
			}
		}
	}
	return true
}

// Validate reports the first malformed selector in the affinity.
func (a *ClusterAffinity) Validate() error {
	if a == nil {
		return nil
	}
	if a.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(a.LabelSelector); err != nil {
			return fmt.Errorf("labelSelector: %w", err)
		}
	}
	if a.FieldSelector != nil {
		for i, r := range a.FieldSelector.MatchExpressions {
			if _, ok := (&Cluster{}).Field(r.Key); !ok && !slices.Contains(fieldKeys, r.Key) {
				return fmt.Errorf("fieldSelector.matchExpressions[%d].key: %q is not one of %v", i, r.Key, fieldKeys)
			}
			switch r.Operator {
			case "In", "NotIn":
				if len(r.Values) == 0 {
					return fmt.Errorf("fieldSelector.matchExpressions[%d]: %s needs values", i, r.Operator)
				}
			case "Exists", "DoesNotExist":
				if len(r.Values) > 0 {
					return fmt.Errorf("fieldSelector.matchExpressions[%d]: %s takes no values", i, r.Operator)
				}
			default:
				return fmt.Errorf("fieldSelector.matchExpressions[%d].operator: %q is not In, NotIn, Exists or DoesNotExist", i, r.Operator)
			}
		}
	}
	return nil
}

// fieldKeys are the keys a field selector may use.
var fieldKeys = []string{"provider", "region", "zone", "site", "jurisdiction"}

// Field returns a cluster's field by selector key; ok is false when it is empty or unknown.
// The jurisdiction is its site's.
func (c *Cluster) Field(key string) (string, bool) {
	var v string
	switch key {
	case "provider":
		v = c.Provider
	case "region":
		v = c.Region
	case "zone":
		v = c.Zone
	case "site":
		v = c.Site
	case "jurisdiction":
		v = c.Jurisdiction
	}
	return v, v != ""
}

func (r Requirement) matches(v string, ok bool) bool {
	switch r.Operator {
	case "In":
		return ok && slices.Contains(r.Values, v)
	case "NotIn":
		return !slices.Contains(r.Values, v)
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	}
	return false
}

// Tolerates reports whether the tolerations tolerate every NoSchedule and NoExecute taint
// of the cluster, timeless (tolerationSeconds is not counted).
func Tolerates(ts []Toleration, c *Cluster) bool { return judge(ts, c, time.Time{}) == tolerated }

func (t Toleration) tolerates(taint Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "Exists":
		return true
	case "", "Equal":
		return t.Key != "" && t.Value == taint.Value
	}
	return false
}
