package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/deploy/testenv"
	"atoll/site"
)

// autoscaledApp is a Deployment of 4 replicas and its HPA (min 6, max 8), divided
// between two sites' clusters by one policy.
const autoscaledApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {rev: "REV"}}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1, resources: {requests: {cpu: 100m}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 6
  maxReplicas: 8
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  - {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: web}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    replicaScheduling: {replicaSchedulingType: Divided}
`

// TestAutoscaling: a Deployment divided 2:2, then its HPA: the HPA follows it into both
// clusters with its bounds divided by each cluster's share (min 6 → 3 each, max 8 → 4
// each); each cluster's HPA raises its Deployment from Atoll's share of 2 to its minimum
// of 3, and Atoll, applying the Deployment again, keeps the HPA's count.
func TestAutoscaling(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	f := start(t, Options{Sites: 2})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	cs := []*kubernetes.Clientset{clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)}
	apply := func(rev string, hpa bool) {
		t.Helper()
		text := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1], "REV", rev).Replace(autoscaledApp)
		if !hpa {
			i := strings.Index(text, "---\napiVersion: autoscaling/v2")
			j := strings.Index(text, "---\napiVersion: policy.karmada.io")
			text = text[:i] + text[j:]
		}
		applyText(ctx, t, f, 0, text)
	}
	// state says what cluster i runs: the HPA's bounds, the Deployment's replicas and its rev.
	state := func(i int) string {
		h, err := cs[i].AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
		d, err2 := cs[i].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || err2 != nil || h.Spec.MinReplicas == nil {
			return fmt.Sprintf("%v %v", err, err2)
		}
		return fmt.Sprintf("hpa %d-%d, replicas %d, rev %s", *h.Spec.MinReplicas, h.Spec.MaxReplicas, *d.Spec.Replicas, d.Annotations["rev"])
	}
	expect := func(what, want string) {
		t.Helper()
		var last [2]string
		if err := f.waitFor(ctx, what, func(map[int]site.State) bool {
			now := [2]string{state(0), state(1)}
			if ctx.Err() == nil {
				last = now
			}
			return now[0] == want && now[1] == want
		}); err != nil {
			t.Fatalf("%v; c0: %s; c1: %s", err, last[0], last[1])
		}
	}
	// The Deployment alone first: Atoll's shares, 2 and 2.
	apply("1", false)
	if err := f.waitFor(ctx, "the Deployment divided 2:2", func(map[int]site.State) bool {
		n := func(i int) int32 {
			d, err := cs[i].AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return -1
			}
			return *d.Spec.Replicas
		}
		return n(0) == 2 && n(1) == 2
	}); err != nil {
		t.Fatal(err)
	}
	apply("1", true)
	expect("each cluster's HPA with half the bounds, raising its Deployment to 3", "hpa 3-4, replicas 3, rev 1")
	// The template changes: Atoll applies the Deployment again, and the HPA's count stays.
	apply("2", true)
	expect("the new revision applied, the HPA's count kept", "hpa 3-4, replicas 3, rev 2")
}
