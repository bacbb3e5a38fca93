package policy_test

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/policy"
	"atoll/scheduler"
)

// A Deployment, the PropagationPolicy that places it and the OverridePolicy that changes
// its image in one cluster, as a developer brings them to atoll apply -f.
func Example() {
	const manifests = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 4
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: web
  namespace: shop
  annotations:
    atoll.io/bound: EU
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    name: web
  placement:
    clusterAffinity:
      clusterNames: [paris, berlin]
    replicaScheduling:
      replicaSchedulingType: Divided
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata:
  name: mirror
  namespace: shop
spec:
  overrideRules:
  - targetCluster:
      clusterNames: [berlin]
    overriders:
      imageOverrider:
      - component: Registry
        operator: add
        value: mirror.example.de
`
	objs, err := policy.Load([]string{"-"}, strings.NewReader(manifests))
	if err != nil {
		fmt.Println(err)
		return
	}
	workloads, _, err := policy.Resolve(objs)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := workloads[0]
	fmt.Println(w.Namespace+"/"+w.Name, w.Replicas, w.Bound, w.Policy.Source)
	fmt.Println(w.Policy.ReplicaScheduling.ReplicaSchedulingType, w.Policy.ReplicaScheduling.ReplicaDivisionPreference)

	for _, cluster := range []string{"paris", "berlin"} {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(w.Template); err != nil {
			fmt.Println(err)
			return
		}
		if err := policy.Apply(u, w.Overrides, &scheduler.Cluster{Site: "eu", Name: cluster}); err != nil {
			fmt.Println(err)
			return
		}
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		fmt.Println(cluster, cs[0].(map[string]any)["image"])
	}
	// Output:
	// shop/web 4 [EU] PropagationPolicy shop/web
	// Divided Weighted
	// paris nginx:1.25
	// berlin mirror.example.de/nginx:1.25
}
