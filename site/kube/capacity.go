package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources are the resources a site publishes per cluster.
var Resources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

// NodeCapacity is one ready, schedulable node: allocatable, and allocatable minus what the
// pods bound to it request (Karmada's general estimator works from the same figures).
type NodeCapacity struct {
	Name        string
	Allocatable corev1.ResourceList
	Free        corev1.ResourceList
}

// Capacity computes each ready, schedulable node's free resources from the nodes and
// pods the informers hold. Pods that ended (Succeeded, Failed) request nothing.
func Capacity(nodes []*corev1.Node, pods []*corev1.Pod) []NodeCapacity {
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
	var out []NodeCapacity
	for _, n := range nodes {
		if !NodeReady(n) || n.Spec.Unschedulable {
			continue
		}
		free := corev1.ResourceList{}
		for _, r := range Resources {
			q := n.Status.Allocatable[r].DeepCopy()
			if u, ok := used[n.Name][r]; ok {
				q.Sub(u)
			}
			if q.Sign() < 0 {
				q = resource.Quantity{}
			}
			free[r] = q
		}
		out = append(out, NodeCapacity{Name: n.Name, Allocatable: n.Status.Allocatable.DeepCopy(), Free: free})
	}
	slices.SortFunc(out, func(a, b NodeCapacity) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// podRequests is what the scheduler reserves for a pod: the larger of the sum of its
// containers' requests and each init container's, plus its overhead.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		add(sum, c.Resources.Requests)
	}
	for _, c := range p.Spec.InitContainers {
		for r, q := range c.Resources.Requests {
			if cur, ok := sum[r]; !ok || q.Cmp(cur) > 0 {
				sum[r] = q.DeepCopy()
			}
		}
	}
	add(sum, p.Spec.Overhead)
	return sum
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

// FormatResources writes "cpu=4,memory=8Gi,pods=110" in the order of Resources.
func FormatResources(l corev1.ResourceList) string {
	var parts []string
	for _, r := range Resources {
		if q, ok := l[r]; ok {
			parts = append(parts, fmt.Sprintf("%s=%s", r, q.String()))
		}
	}
	return strings.Join(parts, ",")
}
