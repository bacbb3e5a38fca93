package scheduler

import (
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Equal reports whether two policies are alike in every field: pointers by what they
// point to, a nil slice or map as an empty one (the scheduler reads them alike). A
// caller that versions its workloads (Workload.Version) compares policies with it.
func (p *Policy) Equal(q *Policy) bool {
	return samePtr(p.ClusterAffinity, q.ClusterAffinity, (*ClusterAffinity).equal) &&
		slices.EqualFunc(p.ClusterAffinities, q.ClusterAffinities, func(a, b ClusterAffinityTerm) bool {
			return a.AffinityName == b.AffinityName && a.ClusterAffinity.equal(&b.ClusterAffinity)
		}) &&
		slices.EqualFunc(p.ClusterTolerations, q.ClusterTolerations, func(a, b Toleration) bool {
			return a.Key == b.Key && a.Operator == b.Operator && a.Value == b.Value && a.Effect == b.Effect &&
				samePtr(a.TolerationSeconds, b.TolerationSeconds, same)
		}) &&
		slices.Equal(p.SpreadConstraints, q.SpreadConstraints) &&
		samePtr(p.ReplicaScheduling, q.ReplicaScheduling, (*ReplicaScheduling).equal) &&
		samePtr(p.Takeover, q.Takeover, same) && p.MaxSurge == q.MaxSurge && p.Source == q.Source &&
		samePtr(p.Failover, q.Failover, func(a, b *Failover) bool {
			return samePtr(a.Application, b.Application, (*ApplicationFailover).equal)
		})
}

func (a *ClusterAffinity) equal(b *ClusterAffinity) bool {
	return samePtr(a.LabelSelector, b.LabelSelector, labelSelectorsEqual) &&
		samePtr(a.FieldSelector, b.FieldSelector, func(x, y *FieldSelector) bool {
			return slices.EqualFunc(x.MatchExpressions, y.MatchExpressions, func(r, s Requirement) bool {
				return r.Key == s.Key && r.Operator == s.Operator && slices.Equal(r.Values, s.Values)
			})
		}) &&
		slices.Equal(a.ClusterNames, b.ClusterNames) && slices.Equal(a.ExcludeClusters, b.ExcludeClusters)
}

func labelSelectorsEqual(a, b *metav1.LabelSelector) bool {
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(r, s metav1.LabelSelectorRequirement) bool {
			return r.Key == s.Key && r.Operator == s.Operator && slices.Equal(r.Values, s.Values)
		})
}

func (a *ReplicaScheduling) equal(b *ReplicaScheduling) bool {
	return a.ReplicaSchedulingType == b.ReplicaSchedulingType && a.ReplicaDivisionPreference == b.ReplicaDivisionPreference &&
		samePtr(a.WeightPreference, b.WeightPreference, func(x, y *WeightPreference) bool {
			return x.DynamicWeight == y.DynamicWeight &&
				slices.EqualFunc(x.StaticWeightList, y.StaticWeightList, func(s, t StaticWeight) bool {
					return s.Weight == t.Weight && s.TargetCluster.equal(&t.TargetCluster)
				})
		})
}

func (a *ApplicationFailover) equal(b *ApplicationFailover) bool {
	return samePtr(a.DecisionConditions.TolerationSeconds, b.DecisionConditions.TolerationSeconds, same) &&
		a.PurgeMode == b.PurgeMode && samePtr(a.GracePeriodSeconds, b.GracePeriodSeconds, same)
}

// samePtr reports whether a and b are both nil, or both not and equal by eq.
func samePtr[T any](a, b *T, eq func(a, b *T) bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return eq(a, b)
}

func same[T comparable](a, b *T) bool { return *a == *b }
