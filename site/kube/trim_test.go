package kube

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTrimKeepsCapacity: the informers' trimmed pods and nodes give the same capacity as
// the objects the apiserver sent, and the trimmed pod drops what Capacity never reads.
func TestTrimKeepsCapacity(t *testing.T) {
	nodes := []*corev1.Node{
		gpuNode("a", true, map[string]string{"nvidia.com/gpu": "4"}),
		node("b", true, "4", "8Gi"),
		node("down", false, "8", "8Gi"),
	}
	nodes[0].Labels = map[string]string{corev1.LabelTopologyRegion: "eu", corev1.LabelTopologyZone: "eu-1"}
	nodes[0].Status.Images = []corev1.ContainerImage{{Names: []string{"registry.example/app:1"}, SizeBytes: 1 << 30}}
	nodes[1].Spec.Unschedulable = true
	pods := []*corev1.Pod{
		gpuPod("a", corev1.PodRunning, "1"),
		pod("b", corev1.PodPending, "1", "1Gi", "3"),
		pod("a", corev1.PodSucceeded, "3", "3Gi"),
		pod("", corev1.PodPending, "1", "1Gi"),
	}
	pods[1].Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}
	for i, p := range pods {
		p.ObjectMeta = metav1.ObjectMeta{Name: "p" + string(rune('0'+i)), Namespace: "ns", Labels: map[string]string{"app": "x"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "a long value"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}}
	}
	var tn []*corev1.Node
	var tp []*corev1.Pod
	for _, n := range nodes {
		o, err := trimNode(n)
		if err != nil {
			t.Fatal(err)
		}
		tn = append(tn, o.(*corev1.Node))
	}
	for _, p := range pods {
		o, err := trimPod(p)
		if err != nil {
			t.Fatal(err)
		}
		tp = append(tp, o.(*corev1.Pod))
	}
	if got, want := Capacity(tn, tp), Capacity(nodes, pods); !reflect.DeepEqual(got, want) {
		t.Fatalf("capacity from trimmed objects %+v, want %+v", got, want)
	}
	if tn[0].Labels[corev1.LabelTopologyRegion] != "eu" || tn[0].Status.Images != nil || nodes[0].Status.Images == nil {
		t.Fatalf("trimmed node: labels %v, images %v; the original must keep its images", tn[0].Labels, tn[0].Status.Images)
	}
	p := tp[0]
	if p.Name != "p0" || p.Namespace != "ns" || p.Labels != nil || p.ManagedFields != nil || p.Spec.Containers[0].Env != nil || p.Status.Conditions != nil {
		t.Fatalf("trimmed pod keeps more than its key and requests: %+v", p)
	}
	if o, _ := trimPod("tombstone"); o != "tombstone" {
		t.Fatalf("a tombstone changed: %v", o)
	}
}
