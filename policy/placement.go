package policy

import (
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"

	"atoll/scheduler"
)

// spreadFields are the fields a spread constraint may group clusters by: Karmada's and
// Atoll's site.
var spreadFields = []string{"site", "cluster", "region", "zone", "provider"}

// validatePlacement checks a placement as Karmada's webhook does, and refuses what Atoll
// would otherwise have to ignore.
func validatePlacement(pl *scheduler.Placement, at fieldPath) []error {
	var errs []error
	if pl.ClusterAffinity != nil && pl.ClusterAffinities != nil {
		errs = append(errs, errAt(at.key("clusterAffinities"), "cannot be set with clusterAffinity"))
	}
	if err := pl.ClusterAffinity.Validate(); err != nil {
		errs = append(errs, errAt(at.key("clusterAffinity"), "%v", err))
	}
	var names []string
	for i, t := range pl.ClusterAffinities {
		q := at.key("clusterAffinities").index(i)
		for _, msg := range validation.IsQualifiedName(t.AffinityName) {
			errs = append(errs, errAt(q.key("affinityName"), "%q: %s", t.AffinityName, msg))
		}
		if len(t.AffinityName) > 32 {
			errs = append(errs, errAt(q.key("affinityName"), "%q: at most 32 characters", t.AffinityName))
		}
		if slices.Contains(names, t.AffinityName) {
			errs = append(errs, errAt(q.key("affinityName"), "%q: each affinity term needs a unique name", t.AffinityName))
		}
		names = append(names, t.AffinityName)
		if err := t.ClusterAffinity.Validate(); err != nil {
			errs = append(errs, errAt(q, "%v", err))
		}
	}
	for i, t := range pl.ClusterTolerations {
		errs = append(errs, validateToleration(t, at.key("clusterTolerations").index(i))...)
	}
	errs = append(errs, validateSpread(pl.SpreadConstraints, at.key("spreadConstraints"))...)
	if rs := pl.ReplicaScheduling; rs != nil {
		errs = append(errs, validateReplicaScheduling(rs, at.key("replicaScheduling"))...)
	}
	return errs
}

func validateToleration(t scheduler.Toleration, at fieldPath) []error {
	var errs []error
	if t.Key != "" {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, errAt(at.key("key"), "%q: %s", t.Key, msg))
		}
	}
	switch t.Operator {
	case "", "Equal":
		if t.Key == "" {
			errs = append(errs, errAt(at.key("operator"), "a toleration without a key needs operator Exists"))
		}
	case "Exists":
		if t.Value != "" {
			errs = append(errs, errAt(at.key("value"), "must be empty with operator Exists"))
		}
	default:
		errs = append(errs, errAt(at.key("operator"), "%q: want Equal or Exists", t.Operator))
	}
	switch t.Effect {
	case "", scheduler.NoSchedule, scheduler.NoExecute:
	default:
		errs = append(errs, errAt(at.key("effect"), "%q: want NoSchedule, NoExecute or empty (both)", t.Effect))
	}
	if t.TolerationSeconds != nil && t.Effect != scheduler.NoExecute {
		errs = append(errs, errAt(at.key("tolerationSeconds"), "needs effect NoExecute"))
	}
	return errs
}

func validateSpread(scs []scheduler.SpreadConstraint, at fieldPath) []error {
	var errs []error
	var seen []string
	for i, sc := range scs {
		q := at.index(i)
		if sc.SpreadByField != "" && sc.SpreadByLabel != "" {
			errs = append(errs, errAt(q, "spreadByField and spreadByLabel cannot both be set"))
		}
		if sc.SpreadByField != "" && !slices.Contains(spreadFields, sc.SpreadByField) {
			errs = append(errs, errAt(q.key("spreadByField"), "%q: want one of %v", sc.SpreadByField, spreadFields))
		}
		if sc.SpreadByLabel != "" {
			for _, msg := range validation.IsQualifiedName(sc.SpreadByLabel) {
				errs = append(errs, errAt(q.key("spreadByLabel"), "%q: %s", sc.SpreadByLabel, msg))
			}
		}
		if sc.MinGroups < 0 {
			errs = append(errs, errAt(q.key("minGroups"), "must not be negative"))
		}
		if sc.MaxGroups < 0 {
			errs = append(errs, errAt(q.key("maxGroups"), "must not be negative"))
		}
		if sc.MaxGroups > 0 && sc.MaxGroups < sc.MinGroups {
			errs = append(errs, errAt(q.key("maxGroups"), "%d is lower than minGroups %d", sc.MaxGroups, sc.MinGroups))
		}
		by := "field " + sc.SpreadByField
		if sc.SpreadByField == "" && sc.SpreadByLabel == "" {
			by = "field cluster"
		} else if sc.SpreadByLabel != "" {
			by = "label " + sc.SpreadByLabel
		}
		if slices.Contains(seen, by) {
			errs = append(errs, errAt(q, "a second constraint by %s", by))
		}
		seen = append(seen, by)
	}
	return errs
}

func validateReplicaScheduling(rs *scheduler.ReplicaScheduling, at fieldPath) []error {
	var errs []error
	switch rs.ReplicaSchedulingType {
	case "", scheduler.Duplicated, scheduler.Divided:
	default:
		errs = append(errs, errAt(at.key("replicaSchedulingType"), "%q: want Duplicated or Divided", rs.ReplicaSchedulingType))
	}
	switch rs.ReplicaDivisionPreference {
	case "", scheduler.Aggregated, scheduler.Weighted:
	default:
		errs = append(errs, errAt(at.key("replicaDivisionPreference"), "%q: want Aggregated or Weighted", rs.ReplicaDivisionPreference))
	}
	if rs.ReplicaSchedulingType == scheduler.Duplicated {
		if rs.ReplicaDivisionPreference != "" {
			errs = append(errs, errAt(at.key("replicaDivisionPreference"), "applies only to replicaSchedulingType Divided"))
		}
		if rs.WeightPreference != nil {
			errs = append(errs, errAt(at.key("weightPreference"), "applies only to replicaSchedulingType Divided"))
		}
	}
	wp := rs.WeightPreference
	if wp == nil {
		return errs
	}
	wat := at.key("weightPreference")
	if rs.ReplicaDivisionPreference == scheduler.Aggregated {
		errs = append(errs, errAt(wat, "applies only to replicaDivisionPreference Weighted"))
	}
	switch wp.DynamicWeight {
	case "":
	case scheduler.AvailableReplicas:
		if len(wp.StaticWeightList) > 0 {
			errs = append(errs, errAt(wat.key("staticWeightList"), "cannot be set with dynamicWeight, which Karmada lets win"))
		}
	default:
		errs = append(errs, errAt(wat.key("dynamicWeight"), "%q: want AvailableReplicas", wp.DynamicWeight))
	}
	for i, w := range wp.StaticWeightList {
		q := wat.key("staticWeightList").index(i)
		if w.Weight < 1 {
			errs = append(errs, errAt(q.key("weight"), "%d: must be at least 1", w.Weight))
		}
		if err := w.TargetCluster.Validate(); err != nil {
			errs = append(errs, errAt(q.key("targetCluster"), "%v", err))
		}
	}
	return errs
}

// defaultPlacement makes Karmada's defaults explicit: without replicaScheduling Karmada
// duplicates; replicaSchedulingType defaults to Divided, and Divided to Weighted (equal
// weights unless a weightPreference says otherwise); a spread constraint without a
// field or label spreads by cluster, with minGroups 1.
func defaultPlacement(pl *scheduler.Placement) {
	rs := pl.ReplicaScheduling
	switch {
	case rs == nil:
		pl.ReplicaScheduling = &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}
	case rs.ReplicaSchedulingType == "":
		rs.ReplicaSchedulingType = scheduler.Divided
	}
	if rs := pl.ReplicaScheduling; rs.ReplicaSchedulingType == scheduler.Divided && rs.ReplicaDivisionPreference == "" {
		rs.ReplicaDivisionPreference = scheduler.Weighted
	}
	for i := range pl.SpreadConstraints {
		sc := &pl.SpreadConstraints[i]
		if sc.SpreadByField == "" && sc.SpreadByLabel == "" {
			sc.SpreadByField = "cluster"
		}
		if sc.MinGroups == 0 {
			sc.MinGroups = 1
		}
	}
}

// undividable are the kinds that run pods whose count Atoll cannot divide among
// clusters: under a Divided placement each would run whole in every cluster, a silent
// duplicate. A Job is divided from format level JobsLevel.
var undividable = []string{"Job", "CronJob", "DaemonSet", "Pod", "ReplicationController"}

// JobsLevel is the charter's format level from which a Job's replicas (spec.parallelism)
// and completions are divided among clusters: crdt.FormatJobs, which sites enforce;
// policy does not import crdt (apply's tests check that the two agree).
const JobsLevel = 2

// CannotDivide refuses a placement that divides a kind Atoll cannot divide under a
// charter of format level level. Every site of a federation divides a Job alike, or none
// does: below JobsLevel the refusal names the level and how to reach it.
func CannotDivide(kind string, p scheduler.Policy, level int) error {
	rs := p.ReplicaScheduling
	if rs == nil || rs.ReplicaSchedulingType != scheduler.Divided || !slices.Contains(undividable, kind) {
		return nil
	}
	switch {
	case kind == "Job" && level >= JobsLevel:
		return nil
	case kind == "Job":
		return fmt.Errorf("its placement divides replicas, but dividing a Job needs format level %d (atoll charter propose --format %d); the charter's is %d (or use replicaSchedulingType: Duplicated)",
			JobsLevel, JobsLevel, level)
	}
	return fmt.Errorf("its placement divides replicas, but Atoll does not divide a %s: it would run whole in every cluster (use replicaSchedulingType: Duplicated)", kind)
}

// CannotDivideIndexed refuses a placement that divides an Indexed Job
// (spec.completionMode: Indexed): each cluster's Job would run the indexes 0 to its own
// completions, the same indexes in every cluster, and the others never.
func CannotDivideIndexed(kind string, p scheduler.Policy, completionMode string) error {
	if rs := p.ReplicaScheduling; kind == "Job" && completionMode == "Indexed" && rs != nil && rs.ReplicaSchedulingType == scheduler.Divided {
		return errors.New("its placement divides an Indexed Job, but each cluster would run the same indexes from 0 (use replicaSchedulingType: Duplicated, or completionMode: NonIndexed)")
	}
	return nil
}

// CheckDivide returns an error naming, with its manifest and policy, every workload of an
// apply whose placement divides a kind that a charter of format level level does not
// divide, or asks for application failover below FailoverLevel: sites would refuse it.
// Resolve and Split leave the level to this check, once the caller knows the charter's.
func CheckDivide(ws []Workload, level int) error {
	var errs []error
	for _, w := range ws {
		err := CannotDivide(w.Kind, w.Policy, level)
		if err == nil {
			err = CannotFailover(w.Policy, level)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %s: %w", w.Source, w.Kind, w.Key, w.PlacedBy, err))
		}
	}
	return errors.Join(errs...)
}

// FailoverLevel is the charter's format level from which application failover
// (spec.failover.application) runs: crdt.FormatFailover, which sites enforce (the facts
// it is timed by are of that level).
const FailoverLevel = 4

// CannotFailover refuses application failover under a charter of format level level
// below FailoverLevel, naming the level and how to reach it.
func CannotFailover(p scheduler.Policy, level int) error {
	if p.Failover == nil || p.Failover.Application == nil || level >= FailoverLevel {
		return nil
	}
	return fmt.Errorf("its policy sets spec.failover.application, which needs format level %d (atoll charter propose --format %d); the charter's is %d",
		FailoverLevel, FailoverLevel, level)
}

// validateFailover checks spec.failover: the purge mode, and times that are not negative.
func validateFailover(f *scheduler.Failover, at fieldPath) []error {
	a := f.Application
	if a == nil {
		return nil
	}
	at = append(at, "application")
	var errs []error
	switch a.PurgeMode {
	case "", scheduler.PurgeGracefully, scheduler.PurgeGraciously, scheduler.PurgeDirectly, scheduler.PurgeImmediately, scheduler.PurgeNever:
	default:
		errs = append(errs, errAt(append(at, "purgeMode"), "%q: want Gracefully, Directly or Never (or Graciously, Immediately)", a.PurgeMode))
	}
	if t := a.DecisionConditions.TolerationSeconds; t != nil && *t < 0 {
		errs = append(errs, errAt(append(at, "decisionConditions", "tolerationSeconds"), "%d: want 0 or more", *t))
	}
	if g := a.GracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, errAt(append(at, "gracePeriodSeconds"), "%d: want a positive number of seconds", *g))
	}
	return errs
}
