package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// An Observer's informers hold every pod and node of a member cluster: thousands of
// pods, each tens of kilobytes as the apiserver sends it (managed fields, environment,
// probes, conditions). Capacity reads a few fields of each, so the informers keep only
// those (trimPod, trimNode): the cache and the garbage collector's work shrink with it.

// trimPod keeps of a pod what Capacity reads: its node, phase and the containers'
// resources. Anything else (a tombstone) passes through.
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: trimMeta(p.ObjectMeta),
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName, Overhead: p.Spec.Overhead},
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}
	out.Spec.Containers = trimContainers(p.Spec.Containers)
	out.Spec.InitContainers = trimContainers(p.Spec.InitContainers)
	return out, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Resources: c.Resources, RestartPolicy: c.RestartPolicy}
	}
	return out
}

// trimNode drops what the Observer never reads of a node and what makes it large: the
// images it holds, its volumes, managed fields and annotations.
func trimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	out := n.DeepCopy()
	out.ObjectMeta = trimMeta(n.ObjectMeta)
	out.Labels = n.Labels
	out.Status.Images, out.Status.VolumesInUse, out.Status.VolumesAttached = nil, nil, nil
	return out, nil
}

// trimMeta keeps what identifies an object to its informer (namespace and name, the key;
// uid and resourceVersion).
func trimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
}

var _ cache.TransformFunc = trimPod
