// Package scheduler computes where a workload's replicas run, as pure functions of the
// replicated state and the viewing site's liveness, so that every site computes the same
// placement and acts only on its own share, without coordination.
//
// Two levels: Planner.Divide divides a workload's replicas across sites; Planner.Local
// places one site's share across its own clusters. Policy is Karmada's Placement (cluster
// affinity by names, labels and fields, ordered fallback affinities, taints and
// tolerations, spread constraints, Duplicated or Divided by static or dynamic weights, or
// Aggregated) plus Atoll's failover settings.
//
// Extended resources (nvidia.com/gpu and the like: Extended) are a hard filter: a cluster
// is usable for a workload whose replicas ask for some only if it has free what one
// replica asks, or already runs the workload; dynamic weights and Aggregated count them
// with cpu, memory and pods. A share is not capped at what fits: the member cluster's
// scheduler keeps the surplus pending, as for cpu and memory.
//
// Division is Webster's method (Sainte-Laguë), which is house-monotone: more replicas never
// take one from a site, and ties go to where replicas already run. The base division
// treats every site as alive; the share of a site dead to the viewer is taken over
// incrementally by the live ones (no live site loses a replica), at most MaxSurge. When a
// site returns, sites with ready replicas above their target keep them until the
// returning site reports its own ready (make-before-break), at both levels. A site the
// charter marks as draining (leaving the federation) gets no share: the others divide the
// workload, and the draining site keeps what it runs, as a hold, until their replicas are
// ready. A workload
// with a bound is only ever placed on clusters of sites whose charter jurisdiction is
// inside it; with no such site alive it stays short and says so.
//
// A Planner divides many workloads over one state and shares what their policies have
// in common; a Replanner plans pass after pass and divides again only the workloads
// whose own inputs, or the sites and clusters they depend on, changed since its
// previous pass, with the same result as a full pass (replan.go). A caller that knows
// which workloads did not change says so with their versions (Workload.Version), and
// the Replanner does not read them.
package scheduler
