package kube_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"atoll/site/kube"
)

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`

// replicaOwners returns the field managers that own spec.replicas of u, as
// "manager/operation".
func replicaOwners(u *unstructured.Unstructured) []string {
	var out []string
	for _, f := range u.GetManagedFields() {
		var set struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if f.FieldsV1 != nil && json.Unmarshal(f.FieldsV1.GetRawBytes(), &set) == nil && set.Spec["f:replicas"] != nil {
			out = append(out, f.Manager+"/"+string(f.Operation))
		}
	}
	return out
}

// atollApplies reports whether Atoll's server-side apply owns spec.replicas of u.
func atollApplies(u *unstructured.Unstructured) bool {
	return slices.Contains(replicaOwners(u), kube.FieldManager+"/"+string(metav1.ManagedFieldsOperationApply))
}

// TestApplyKeepsAutoscaledReplicas runs a real HorizontalPodAutoscaler against a
// Deployment that Atoll applies with 2 replicas: the HPA controller raises it to its
// minReplicas, 4, and Atoll, applying the object again on every call (resync 1 ms),
// leaves the count to it; no apply resets it to the default of 1 while Atoll lets go of
// the field; the counts the cluster observes come back from Apply (the site's status);
// once the HPA is deleted, Atoll's next apply sets 2 again.
func TestApplyKeepsAutoscaledReplicas(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 3*time.Minute)
	cs, _ := admin(t, c)
	a := newApplier(t, c, time.Millisecond, nil, nil)
	ns := namespace("autoscaled")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	u := render(t, ns, "web", webDeployment, 2)
	apply := func() *unstructured.Unstructured {
		t.Helper()
		got, _, err := a.Apply(ctx, u)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if r := replicasOf(got); r != "2" && r != "4" {
			t.Fatalf("after Atoll's apply spec.replicas is %s, want 2 (Atoll's) or 4 (the HPA's); owners %v", r, replicaOwners(got))
		}
		return got
	}
	if got := apply(); replicasOf(got) != "2" {
		t.Fatalf("created with replicas %s, want 2", replicasOf(got))
	}
	if got := apply(); replicasOf(got) != "2" || !atollApplies(got) {
		t.Fatalf("applied again with replicas %s, owners %v; want 2, owned by Atoll's apply", replicasOf(got), replicaOwners(got))
	}

	cpu := int32(50)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    new(int32(4)), MaxReplicas: 6,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu},
			}}},
		},
	}
	// Twice: first over the object as Atoll created it (its create, an update, owns
	// spec.replicas too), then over one whose spec.replicas only Atoll's apply owns (taken
	// back from the HPA), which Atoll must hand over before leaving the field out.
	for round := 1; round <= 2; round++ {
		if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, h, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Every apply checks that the count is 2 or 4, never the default of 1.
		until(ctx, t, "Atoll's apply to let go of spec.replicas", func() (bool, error) {
			return !atollApplies(apply()), nil
		})
		until(ctx, t, "the HPA controller to scale the Deployment to 4 and kwok to make 4 pods ready", func() (bool, error) {
			got := apply()
			ready, _, _ := unstructured.NestedInt64(got.Object, "status", "readyReplicas")
			return replicasOf(got) == "4" && ready == 4, nil
		})
		for range 5 {
			if got := apply(); replicasOf(got) != "4" || atollApplies(got) {
				t.Fatalf("round %d: Atoll applied again: replicas %s, owners %v; want 4, not owned by Atoll's apply", round, replicasOf(got), replicaOwners(got))
			}
		}
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 4 {
			t.Fatalf("round %d: the cluster's Deployment after Atoll's applies: %v, %v; want 4 replicas", round, d.Spec.Replicas, err)
		}
		t.Logf("round %d: spec.replicas 4, owned by %v", round, replicaOwners(apply()))

		if err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		until(ctx, t, "Atoll's apply to set its 2 replicas again once the HPA is gone", func() (bool, error) {
			got := apply()
			return replicasOf(got) == "2" && atollApplies(got), nil
		})
	}
}

// TestApplyRetainReplicas: with Karmada's retain-replicas label on the template, an
// object is created with Atoll's share, and an existing one keeps the cluster's count
// (Atoll's own earlier one, without falling to the default; then one set with the scale
// subresource) whatever share Atoll renders, until the label goes.
func TestApplyRetainReplicas(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	cs, _ := admin(t, c)
	a := newApplier(t, c, time.Millisecond, nil, nil)
	ns := namespace("retained")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	retained := strings.Replace(webDeployment, "labels: {app: web}", "labels: {app: web, "+kube.LabelRetainReplicas+": \"true\"}", 1)
	apply := func(name, template string, replicas int) *unstructured.Unstructured {
		t.Helper()
		got, _, err := a.Apply(ctx, render(t, ns, name, template, replicas))
		if err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
		return got
	}
	if got := apply("fresh", retained, 3); replicasOf(got) != "3" {
		t.Errorf("created with the label: replicas %s, want Atoll's 3", replicasOf(got))
	}

	scale := func(n int32) {
		t.Helper()
		sc := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}
		if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Created, scaled by hand, applied again: Atoll's apply alone owns spec.replicas.
	apply("web", webDeployment, 2)
	scale(5)
	if got := apply("web", webDeployment, 2); replicasOf(got) != "2" || !slices.Equal(replicaOwners(got), []string{"atoll/Apply"}) {
		t.Fatalf("applied over a scale to 5: replicas %s, owners %v; want 2, owned by atoll/Apply alone", replicasOf(got), replicaOwners(got))
	}
	// The label comes: Atoll hands the field over, so the count stays 2 (leaving it out
	// alone would make the API server remove it, and the default of 1 apply) and is not
	// Atoll's new share.
	got := apply("web", retained, 3)
	if replicasOf(got) != "2" || atollApplies(got) || !slices.Contains(replicaOwners(got), kube.FieldManagerHandover+"/Apply") {
		t.Fatalf("with the label: replicas %s, owners %v; want 2, owned by %s", replicasOf(got), replicaOwners(got), kube.FieldManagerHandover)
	}
	scale(5)
	for _, share := range []int{3, 4} {
		if got := apply("web", retained, share); replicasOf(got) != "5" {
			t.Fatalf("scaled to 5 in the cluster, Atoll's share %d: replicas %s, owners %v; want 5", share, replicasOf(got), replicaOwners(got))
		}
	}
	if got := apply("web", webDeployment, 3); replicasOf(got) != "3" || !atollApplies(got) {
		t.Errorf("without the label: replicas %s, owners %v; want Atoll's 3", replicasOf(got), replicaOwners(got))
	}
}

func replicasOf(u *unstructured.Unstructured) string {
	n, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !ok {
		return "unset"
	}
	return fmt.Sprint(n)
}

// TestApplyDropsRemovedFields: a field removed from a template leaves the cluster's
// object, also for an object Atoll created (a create is an update in the object's
// managed fields, whose entry would otherwise keep every field it set).
func TestApplyDropsRemovedFields(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	cs, _ := admin(t, c)
	a := newApplier(t, c, time.Hour, nil, nil)
	ns := namespace("dropped")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, labels: {tier: a}}\ndata: {kept: \"1\", dropped: \"2\"}\n"
	if _, _, err := a.Apply(ctx, render(t, ns, "configmap.settings", cm, -1)); err != nil {
		t.Fatal(err)
	}
	less := strings.NewReplacer(", dropped: \"2\"", "", "labels: {tier: a}", "labels: {}").Replace(cm)
	until(ctx, t, "the removed key and label gone from the cluster", func() (bool, error) {
		if _, _, err := a.Apply(ctx, render(t, ns, "configmap.settings", less, -1)); err != nil {
			return false, err
		}
		got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, key := got.Data["dropped"]
		_, label := got.Labels["tier"]
		return got.Data["kept"] == "1" && !key && !label, fmt.Errorf("data %v, labels %v", got.Data, got.Labels)
	})
}

// TestApplyAdopts: an object Atoll did not create is left alone unless the workload asks
// to adopt it (conflictResolution: Overwrite) and the site's admission allows it; then
// it is taken over in place, its pods untouched. An object another object owns is never
// adopted.
func TestApplyAdopts(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	cs, _ := admin(t, c)
	a := newApplier(t, c, time.Hour, nil, nil)
	ns := namespace("adopted")
	if err := a.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// What another control plane made: its Deployment, running.
	legacy := strings.Replace(webDeployment, "metadata:\n  labels: {app: web}", "metadata:\n  name: web\n  labels: {app: web, karmada.io/managed: \"true\"}", 1)
	legacy = strings.Replace(legacy, "replicas: 1", "replicas: 2", 1)
	var d appsv1.Deployment
	if err := yaml.Unmarshal([]byte(legacy), &d); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := func() (string, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return "", err
		}
		var uids []string
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				uids = append(uids, string(p.UID))
			}
		}
		slices.Sort(uids)
		return strings.Join(uids, ","), nil
	}
	var before string
	until(ctx, t, "two pods running", func() (bool, error) {
		var err error
		before, err = pods()
		return strings.Count(before, ",") == 1, err
	})
	admitter := func(adopt bool) *kube.Admitter {
		ad, err := kube.NewAdmitter(kube.Admission{Adopt: adopt})
		if err != nil {
			t.Fatal(err)
		}
		return ad
	}
	rendered := func(adopt bool, ad *kube.Admitter) *unstructured.Unstructured {
		w := kube.Workload{Namespace: ns, Name: "web", Template: []byte(webDeployment), Replicas: 2, Change: "c1", Adopt: adopt}
		u, err := kube.NewTemplates().Render(w, nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := ad.Admit(w, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name         string
		adopt, allow bool
	}{{"no Overwrite", false, true}, {"Overwrite, the site does not allow it", true, false}} {
		_, _, err := a.Apply(ctx, rendered(tc.adopt, admitter(tc.allow)))
		if _, ok := kube.IsRefusal(err); !ok {
			t.Fatalf("%s: %v, want a refusal", tc.name, err)
		}
	}
	got, _, err := a.Apply(ctx, rendered(true, admitter(true)))
	if err != nil {
		t.Fatalf("adopting: %v", err)
	}
	if got.GetLabels()[kube.LabelManaged] != "atoll" || got.GetLabels()["karmada.io/managed"] != "true" {
		t.Fatalf("adopted labels %v: want Atoll's, and the others kept", got.GetLabels())
	}
	// The pods are the same pods: the template did not change, so nothing rolled.
	rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rs.Items) != 1 {
		t.Fatalf("ReplicaSets after the adoption: %d, %v; want the one from before", len(rs.Items), err)
	}
	if after, err := pods(); err != nil || after != before {
		t.Fatalf("pods after the adoption %q (%v), before %q", after, err, before)
	}
	// An object another object owns is not adopted, whatever the policy and site say.
	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: got.GetUID()}}}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, owned, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := kube.Workload{Namespace: ns, Name: "configmap.settings", Template: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"), Replicas: -1, Change: "c1", Adopt: true}
	u, err := kube.NewTemplates().Render(w, nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := admitter(true).Admit(w, u); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Apply(ctx, u); err == nil || !strings.Contains(err.Error(), "owned by another object") {
		t.Fatalf("adopting an owned object: %v", err)
	}
}
