package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources are the native resources a site publishes per cluster and per node; extended
// resources (extended.go) are published per cluster.
var Resources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

// NodeCapacity is one ready, schedulable node: allocatable, and allocatable minus what the
// pods bound to it request (Karmada's general estimator works from the same figures), of
// cpu, memory and pods and of the extended resources its cluster publishes.
type NodeCapacity struct {
	Name        string
	Allocatable corev1.ResourceList
	Free        corev1.ResourceList
}

// ClusterCapacity is what a cluster's ready, schedulable nodes hold.
type ClusterCapacity struct {
	Nodes []NodeCapacity // by name
	// Extended are the extended resources the cluster publishes, in name order, at most
	// MaxExtended, summed over the nodes in whole units.
	Extended []ExtendedCapacity
	// Ignored says what of the nodes' extended resources was left out, and why.
	Ignored []string
}

// ExtendedCapacity is one extended resource of a cluster, in whole units.
type ExtendedCapacity struct {
	Name        string
	Allocatable int64
	Free        int64
}

// Capacity computes each ready, schedulable node's free resources from the nodes and
// pods the informers hold, and the cluster's extended resources (extended.go). Pods that
// ended (Succeeded, Failed) request nothing.
func Capacity(nodes []*corev1.Node, pods []*corev1.Pod) ClusterCapacity {
	used := map[string]corev1.ResourceList{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		u := used[p.Spec.NodeName]
		if u == nil {
			u = corev1.ResourceList{}
			used[p.Spec.NodeName] = u
		}
		add(u, podRequests(p))
		add(u, corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)})
	}
	ready := slices.DeleteFunc(slices.Clone(nodes), func(n *corev1.Node) bool { return !NodeReady(n) || n.Spec.Unschedulable })
	ext, ignored := extendedNames(ready)
	var out ClusterCapacity
	for _, n := range ready {
		alloc, free := corev1.ResourceList{}, corev1.ResourceList{}
		for _, r := range Resources {
			if q, ok := n.Status.Allocatable[r]; ok {
				alloc[r] = q.DeepCopy()
			}
			free[r] = minus(n.Status.Allocatable[r], used[n.Name][r])
		}
		for _, name := range ext {
			r := corev1.ResourceName(name)
			if q, ok := n.Status.Allocatable[r]; ok {
				alloc[r], free[r] = q.DeepCopy(), minus(q, used[n.Name][r])
			}
		}
		out.Nodes = append(out.Nodes, NodeCapacity{Name: n.Name, Allocatable: alloc, Free: free})
	}
	slices.SortFunc(out.Nodes, func(a, b NodeCapacity) int { return strings.Compare(a.Name, b.Name) })
	allocs, frees, notes := extendedSums(out.Nodes, ext)
	for _, name := range ext {
		out.Extended = append(out.Extended, ExtendedCapacity{Name: name, Allocatable: allocs[name], Free: frees[name]})
	}
	out.Ignored = append(ignored, notes...)
	return out
}

// minus is a - b, or 0 if b is more.
func minus(a, b resource.Quantity) resource.Quantity {
	q := a.DeepCopy()
	q.Sub(b)
	if q.Sign() < 0 {
		return resource.Quantity{}
	}
	return q
}

// podRequests is what the scheduler reserves for a pod: the larger of the sum of its
// containers' requests and each init container's, plus its overhead. A limit without a
// request is the request, as the API server defaults it (extended resources are asked
// for through limits).
func podRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		add(sum, containerRequests(c))
	}
	for _, c := range p.Spec.InitContainers {
		for r, q := range containerRequests(c) {
			if cur, ok := sum[r]; !ok || q.Cmp(cur) > 0 {
				sum[r] = q.DeepCopy()
			}
		}
	}
	add(sum, p.Spec.Overhead)
	return sum
}

// containerRequests are a container's requests, with its limits for what it requests not.
func containerRequests(c corev1.Container) corev1.ResourceList {
	if len(c.Resources.Limits) == 0 {
		return c.Resources.Requests
	}
	out := c.Resources.Requests.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	for r, q := range c.Resources.Limits {
		if _, ok := out[r]; !ok {
			out[r] = q.DeepCopy()
		}
	}
	return out
}

func add(dst, src corev1.ResourceList) {
	for r, q := range src {
		cur := dst[r]
		cur.Add(q)
		dst[r] = cur
	}
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// FormatResources writes "cpu=4,memory=8Gi,pods=110" in the order of Resources: a node's
// field (available/node/<node>) leaves extended resources out, so that a cluster of
// thousands of nodes stays within the record's bound.
func FormatResources(l corev1.ResourceList) string {
	var parts []string
	for _, r := range Resources {
		if q, ok := l[r]; ok {
			parts = append(parts, fmt.Sprintf("%s=%s", r, q.String()))
		}
	}
	return strings.Join(parts, ",")
}
