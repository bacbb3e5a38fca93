package scheduler

import (
	"math"
	"time"
)

// Failover controls (docs/adr/0014-failover-controls.md). Every timed decision rests on
// one timestamp in the replicated state, written by the site that owns the cluster (when
// a taint began, when a workload became unhealthy there, when it was evicted), read
// against State.Now, the viewing site's clock. With a zero Now nothing timed happens:
// tolerations do not run out and no eviction is in force.

// Failover is Karmada's FailoverBehavior, the part Atoll implements: application failover.
// (A cluster's failure is its site's death or the cluster's health: survivors take over,
// make-before-break, as Policy.Takeover and MaxSurge say.)
type Failover struct {
	Application *ApplicationFailover `json:"application,omitempty"`
}

// ApplicationFailover moves a workload off a cluster where it has been unhealthy for
// DecisionConditions.TolerationSeconds.
type ApplicationFailover struct {
	DecisionConditions DecisionConditions `json:"decisionConditions"`
	// PurgeMode: Gracefully (Graciously; the default) keeps the old replicas until the new
	// ones are ready or the eviction ends; Directly (Immediately) removes them at once;
	// Never keeps them until the eviction ends.
	PurgeMode string `json:"purgeMode,omitempty"`
	// GracePeriodSeconds is how long an eviction is in force (default 600): the cluster
	// gets none of the workload meanwhile, and Gracefully's hold ends with it.
	GracePeriodSeconds *int32 `json:"gracePeriodSeconds,omitempty"`
}

// DecisionConditions say when a workload is moved: unhealthy for TolerationSeconds
// (default 300; 0: at once).
type DecisionConditions struct {
	TolerationSeconds *int32 `json:"tolerationSeconds,omitempty"`
}

// Purge modes, as Karmada names them (with its deprecated synonyms).
const (
	PurgeGracefully  = "Gracefully"
	PurgeGraciously  = "Graciously"
	PurgeDirectly    = "Directly"
	PurgeImmediately = "Immediately"
	PurgeNever       = "Never"
)

// Karmada's defaults.
const (
	DefaultFailoverToleration = 300 * time.Second
	DefaultGracePeriod        = 600 * time.Second
)

// Purge returns the purge mode: Gracefully, Directly or Never.
func (a *ApplicationFailover) Purge() string {
	switch a.PurgeMode {
	case PurgeDirectly, PurgeImmediately:
		return PurgeDirectly
	case PurgeNever:
		return PurgeNever
	}
	return PurgeGracefully
}

// Toleration is how long a workload may be unhealthy in a cluster before it is evicted.
func (a *ApplicationFailover) Toleration() time.Duration {
	if t := a.DecisionConditions.TolerationSeconds; t != nil {
		return time.Duration(max(*t, 0)) * time.Second
	}
	return DefaultFailoverToleration
}

// GracePeriod is how long an eviction is in force.
func (a *ApplicationFailover) GracePeriod() time.Duration {
	if g := a.GracePeriodSeconds; g != nil && *g > 0 {
		return time.Duration(*g) * time.Second
	}
	return DefaultGracePeriod
}

// application returns the workload's application failover, nil if it has none.
func (w *Workload) application() *ApplicationFailover {
	if f := w.Policy.Failover; f != nil {
		return f.Application
	}
	return nil
}

// Evicted reports whether an eviction of the workload from the cluster whose status is
// o is in force at now.
func (w *Workload) Evicted(o Observed, now time.Time) bool {
	a := w.application()
	return a != nil && !now.IsZero() && !o.EvictedAt.IsZero() && now.Before(o.EvictedAt.Add(a.GracePeriod()))
}

// EvictNow reports whether the site that owns a cluster, where the workload reports o,
// should record its eviction at now: the policy asks for application failover, the
// workload has been unhealthy there for the toleration, and no eviction is in force.
func (w *Workload) EvictNow(o Observed, now time.Time) bool {
	a := w.application()
	return a != nil && !now.IsZero() && !o.UnhealthySince.IsZero() && !w.Evicted(o, now) &&
		!now.Before(o.UnhealthySince.Add(a.Toleration()))
}

// taintVerdict is how a cluster's taints treat a workload's tolerations.
type taintVerdict int

const (
	tolerated taintVerdict = iota
	// cordoned: a NoSchedule taint is not tolerated: the cluster keeps what it runs and
	// gets nothing new.
	cordoned
	// evicting: a NoExecute taint is not tolerated, or was for tolerationSeconds that
	// have passed: the cluster gets nothing, and what it runs is held until the
	// replacements are ready.
	evicting
)

// judge returns the verdict of the cluster's taints on the tolerations at now.
func judge(ts []Toleration, c *Cluster, now time.Time) taintVerdict {
	v := tolerated
	for _, taint := range c.Taints {
		switch taint.Effect {
		case NoSchedule:
			if !tolerates(ts, taint) {
				v = cordoned
			}
		case NoExecute:
			if !tolerates(ts, taint) {
				return evicting
			}
			if d, ok := tolerationFor(ts, taint); ok && !now.IsZero() && !taint.Since.IsZero() && !now.Before(taint.Since.Add(d)) {
				return evicting
			}
		}
	}
	return v
}

func tolerates(ts []Toleration, taint Taint) bool {
	for _, t := range ts {
		if t.tolerates(taint) {
			return true
		}
	}
	return false
}

// tolerationFor returns how long the tolerations tolerate a NoExecute taint, as
// Kubernetes counts it: the least tolerationSeconds of those that match (a negative one
// is 0); ok is false when none of them has a limit.
func tolerationFor(ts []Toleration, taint Taint) (time.Duration, bool) {
	least := int64(math.MaxInt64)
	for _, t := range ts {
		if t.TolerationSeconds != nil && t.tolerates(taint) {
			least = min(least, max(*t.TolerationSeconds, 0))
		}
	}
	if least == math.MaxInt64 {
		return 0, false
	}
	return time.Duration(min(least, math.MaxInt64/int64(time.Second))) * time.Second, true
}

// Next returns when the workload's placement may next change by the clock alone, after
// st.Now: a tolerated NoExecute taint running out, an eviction ending, or one falling
// due; zero if none will (or without a clock). A site passes again then, rather than at
// its next periodic pass.
func Next(w *Workload, st *State) time.Time {
	now := st.Now
	var next time.Time
	at := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if now.IsZero() {
		return next
	}
	if ts := w.Policy.ClusterTolerations; len(ts) > 0 {
		for i := range st.Clusters {
			for _, taint := range st.Clusters[i].Taints {
				if taint.Effect != NoExecute || taint.Since.IsZero() {
					continue
				}
				if d, ok := tolerationFor(ts, taint); ok {
					at(taint.Since.Add(d))
				}
			}
		}
	}
	if a := w.application(); a != nil {
		for _, o := range w.Status {
			if !o.EvictedAt.IsZero() {
				at(o.EvictedAt.Add(a.GracePeriod()))
			}
			if !o.UnhealthySince.IsZero() {
				at(o.UnhealthySince.Add(a.Toleration()))
			}
		}
	}
	return next
}
