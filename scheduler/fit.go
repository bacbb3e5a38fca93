package scheduler

import (
	"fmt"
	"slices"
	"strings"
)

// Extended reports whether a resource is an extended resource as Kubernetes defines one:
// a name with a domain prefix outside kubernetes.io (nvidia.com/gpu, amd.com/gpu), which
// nodes advertise in whole units and a pod asks for through its limits. Names without a
// prefix (cpu, memory, pods, hugepages-2Mi, ephemeral-storage) are native.
func Extended(name string) bool {
	return strings.Contains(name, "/") && !strings.Contains(name, "kubernetes.io/") && !strings.HasPrefix(name, "requests.")
}

// extendedRequests returns the extended resources one replica of the workload asks for,
// in name order; none for kinds without replicas, which are placed whole wherever the
// placement selects.
func extendedRequests(w *Workload) []string {
	if w.Replicas < 0 {
		return nil
	}
	var out []string
	for r, n := range w.Request {
		if n > 0 && Extended(r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// fits reports whether a cluster can run a replica of the workload as far as its extended
// resources go: it has free at least what one replica asks of each, or it already runs
// the workload (whose own pods hold what they use, so it stays where it runs). cpu,
// memory and pods are not a filter: a member cluster's own scheduler and autoscaler deal
// with those; a cluster without the device never can.
func fits(w *Workload, ext []string, c *Cluster, key string) bool {
	if w.Status[key].Desired > 0 {
		return true
	}
	for _, r := range ext {
		if c.Available[r] < w.Request[r] {
			return false
		}
	}
	return true
}

// unfitNote says why no cluster is left when the extended resources excluded some.
func unfitNote(w *Workload, ext []string) string {
	parts := make([]string, len(ext))
	for i, r := range ext {
		parts[i] = fmt.Sprintf("%s %d", r, w.Request[r])
	}
	return "no usable cluster has free " + strings.Join(parts, ", ") + " for one replica"
}
