// Package scheduler will compute, as pure functions of the shared state, the global
// division of each workload's replicas across sites and the local placement of a site's
// share across its clusters, with failover, make-before-break failback and residency.
//
// Not built yet: it is issue 5.
package scheduler
