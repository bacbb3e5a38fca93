package policy

import (
	"strings"
	"testing"
)

// placement is a PropagationPolicy for shop/web whose placement is body (indented four
// spaces): line 11 of t1.yaml is body's first line.
func placement(body string) string {
	return `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: p
  namespace: shop
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  priority: 1
  placement:
` + body
}

func TestPlacementErrors(t *testing.T) {
	const who = "PropagationPolicy shop/p: "
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown field", "    foo: 1\n", `t1.yaml:11: ` + who + `unknown field "spec.placement.foo"`},
		{"unknown nested field", "    clusterAffinity:\n      clusterNames: [a]\n      regions: [b]\n", `t1.yaml:13: ` + who + `unknown field "spec.placement.clusterAffinity.regions"`},
		{"unknown field in a list item", "    clusterTolerations:\n    - key: a\n      operator: Exists\n      tolerationSecond: 5\n", `t1.yaml:14: ` + who + `unknown field "spec.placement.clusterTolerations[0].tolerationSecond"`},
		{"wrong type", "    spreadConstraints:\n    - maxGroups: two\n", `t1.yaml:12: ` + who + `spec.placement.spreadConstraints[0].maxGroups: expected an integer, found a string`},
		{"list expected", "    clusterAffinity:\n      clusterNames: member1\n", `t1.yaml:12: ` + who + `spec.placement.clusterAffinity.clusterNames: expected a list, found a string`},
		{"both affinity forms", "    clusterAffinity: {clusterNames: [a]}\n    clusterAffinities:\n    - {affinityName: x, clusterNames: [b]}\n", `t1.yaml:12: ` + who + `spec.placement.clusterAffinities: cannot be set with clusterAffinity`},
		{"affinity names unique", "    clusterAffinities:\n    - {affinityName: x, clusterNames: [a]}\n    - affinityName: x\n      clusterNames: [b]\n", `t1.yaml:13: ` + who + `spec.placement.clusterAffinities[1].affinityName: "x": each affinity term needs a unique name`},
		{"affinity name required", "    clusterAffinities:\n    - clusterNames: [a]\n", `spec.placement.clusterAffinities[0].affinityName: "": name part must be non-empty`},
		{"field selector key", "    clusterAffinity:\n      fieldSelector:\n        matchExpressions:\n        - {key: color, operator: In, values: [red]}\n", `t1.yaml:11: ` + who + `spec.placement.clusterAffinity: fieldSelector.matchExpressions[0].key: "color" is not one of`},
		{"label selector operator", "    clusterAffinity:\n      labelSelector:\n        matchExpressions:\n        - {key: a, operator: Near}\n", who + `spec.placement.clusterAffinity: labelSelector: "Near" is not a valid label selector operator`},
		{"toleration operator", "    clusterTolerations:\n    - key: a\n      operator: Like\n", `t1.yaml:13: ` + who + `spec.placement.clusterTolerations[0].operator: "Like": want Equal or Exists`},
		{"toleration effect", "    clusterTolerations:\n    - key: a\n      effect: PreferNoSchedule\n", `t1.yaml:13: ` + who + `spec.placement.clusterTolerations[0].effect: "PreferNoSchedule": want NoSchedule, NoExecute or empty`},
		{"toleration Exists with a value", "    clusterTolerations:\n    - {key: a, operator: Exists, value: b}\n", `spec.placement.clusterTolerations[0].value: must be empty with operator Exists`},
		{"toleration without key", "    clusterTolerations:\n    - {value: b}\n", `spec.placement.clusterTolerations[0].operator: a toleration without a key needs operator Exists`},
		{"tolerationSeconds without NoExecute", "    clusterTolerations:\n    - {key: a, operator: Exists, effect: NoSchedule, tolerationSeconds: 30}\n", `spec.placement.clusterTolerations[0].tolerationSeconds: needs effect NoExecute`},
		{"spread field", "    spreadConstraints:\n    - spreadByField: rack\n", `t1.yaml:12: ` + who + `spec.placement.spreadConstraints[0].spreadByField: "rack": want one of [site cluster region zone provider]`},
		{"spread field and label", "    spreadConstraints:\n    - {spreadByField: zone, spreadByLabel: rack}\n", `t1.yaml:12: ` + who + `spec.placement.spreadConstraints[0]: spreadByField and spreadByLabel cannot both be set`},
		{"spread min over max", "    spreadConstraints:\n    - spreadByField: site\n      minGroups: 3\n      maxGroups: 2\n", `t1.yaml:14: ` + who + `spec.placement.spreadConstraints[0].maxGroups: 2 is lower than minGroups 3`},
		{"spread negative", "    spreadConstraints:\n    - {spreadByField: site, minGroups: -1}\n", `spec.placement.spreadConstraints[0].minGroups: must not be negative`},
		{"spread twice by a field", "    spreadConstraints:\n    - {spreadByField: region}\n    - {spreadByField: region}\n", `spec.placement.spreadConstraints[1]: a second constraint by field region`},
		{"replica scheduling type", "    replicaScheduling:\n      replicaSchedulingType: Split\n", `t1.yaml:12: ` + who + `spec.placement.replicaScheduling.replicaSchedulingType: "Split": want Duplicated or Divided`},
		{"division preference", "    replicaScheduling:\n      replicaDivisionPreference: Even\n", `spec.placement.replicaScheduling.replicaDivisionPreference: "Even": want Aggregated or Weighted`},
		{"preference with Duplicated", "    replicaScheduling:\n      replicaSchedulingType: Duplicated\n      replicaDivisionPreference: Weighted\n", `t1.yaml:13: ` + who + `spec.placement.replicaScheduling.replicaDivisionPreference: applies only to replicaSchedulingType Divided`},
		{"weights with Aggregated", "    replicaScheduling:\n      replicaDivisionPreference: Aggregated\n      weightPreference: {dynamicWeight: AvailableReplicas}\n", `spec.placement.replicaScheduling.weightPreference: applies only to replicaDivisionPreference Weighted`},
		{"dynamic weight", "    replicaScheduling:\n      weightPreference: {dynamicWeight: FreeCPU}\n", `spec.placement.replicaScheduling.weightPreference.dynamicWeight: "FreeCPU": want AvailableReplicas`},
		{"static and dynamic", "    replicaScheduling:\n      weightPreference:\n        dynamicWeight: AvailableReplicas\n        staticWeightList:\n        - {targetCluster: {clusterNames: [a]}, weight: 1}\n", `t1.yaml:14: ` + who + `spec.placement.replicaScheduling.weightPreference.staticWeightList: cannot be set with dynamicWeight`},
		{"weight zero", "    replicaScheduling:\n      weightPreference:\n        staticWeightList:\n        - targetCluster: {clusterNames: [a]}\n          weight: 0\n", `t1.yaml:15: ` + who + `spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight: 0: must be at least 1`},
		{"weight target", "    replicaScheduling:\n      weightPreference:\n        staticWeightList:\n        - targetCluster:\n            fieldSelector: {matchExpressions: [{key: region, operator: Gt, values: [a]}]}\n          weight: 1\n", `spec.placement.replicaScheduling.weightPreference.staticWeightList[0].targetCluster: fieldSelector.matchExpressions[0].operator: "Gt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contains(t, resolveErr(t, deployWeb, placement(tc.body)), tc.want)
		})
	}
}

func TestPolicyFieldErrors(t *testing.T) {
	const head = "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata:\n  name: p\n  namespace: shop\n"
	const sel = "  resourceSelectors:\n  - {apiVersion: apps/v1, kind: Deployment, name: web}\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown spec field", head + "spec:\n" + sel + "  placment: {}\n", `t1.yaml:9: PropagationPolicy shop/p: unknown field "spec.placment"`},
		{"unknown top-level field", head + "spec:\n" + sel + "status: {}\n", `t1.yaml:9: PropagationPolicy shop/p: unknown field "status"`},
		{"association", head + "spec:\n" + sel + "  association: true\n", `t1.yaml:9: PropagationPolicy shop/p: spec.association: not supported by Atoll`},
		{"cluster failover", head + "spec:\n" + sel + "  failover:\n    cluster: {purgeMode: Directly}\n", `t1.yaml:10: PropagationPolicy shop/p: spec.failover.cluster: not supported by Atoll`},
		{"state preservation", head + "spec:\n" + sel + "  failover:\n    application:\n      decisionConditions: {}\n      statePreservation: {rules: []}\n", `spec.failover.application.statePreservation: not supported by Atoll`},
		{"purge mode", head + "spec:\n" + sel + "  failover:\n    application:\n      decisionConditions: {tolerationSeconds: 30}\n      purgeMode: Later\n", `spec.failover.application.purgeMode: "Later": want Gracefully, Directly or Never`},
		{"negative toleration", head + "spec:\n" + sel + "  failover:\n    application:\n      decisionConditions: {tolerationSeconds: -1}\n", `spec.failover.application.decisionConditions.tolerationSeconds: -1: want 0 or more`},
		{"zero grace", head + "spec:\n" + sel + "  failover:\n    application:\n      decisionConditions: {}\n      gracePeriodSeconds: 0\n", `spec.failover.application.gracePeriodSeconds: 0: want a positive number`},
		{"conflictResolution Replace", head + "spec:\n" + sel + "  conflictResolution: Replace\n", `spec.conflictResolution: "Replace": want Abort or Overwrite`},
		{"preemption", head + "spec:\n" + sel + "  preemption: Always\n", `spec.preemption: not supported by Atoll`},
		{"schedulerName", head + "spec:\n" + sel + "  schedulerName: mine\n", `spec.schedulerName: not supported by Atoll`},
		{"finalizers", "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata:\n  name: p\n  namespace: shop\n  finalizers: [x]\nspec:\n" + sel, `t1.yaml:6: PropagationPolicy shop/p: metadata.finalizers: not supported by Atoll`},
		{"no selectors", head + "spec:\n  placement: {}\n", `t1.yaml:6: PropagationPolicy shop/p: spec.resourceSelectors: at least one selector is required`},
		{"selector without kind", head + "spec:\n  resourceSelectors:\n  - apiVersion: apps/v1\n    name: web\n", `t1.yaml:8: PropagationPolicy shop/p: spec.resourceSelectors[0].kind: required`},
		{"selector in another namespace", head + "spec:\n  resourceSelectors:\n  - apiVersion: apps/v1\n    kind: Deployment\n    namespace: dev\n", `t1.yaml:10: PropagationPolicy shop/p: spec.resourceSelectors[0].namespace: "dev": a PropagationPolicy selects only in its own namespace "shop"`},
		{"bad label selector", head + "spec:\n  resourceSelectors:\n  - apiVersion: apps/v1\n    kind: Deployment\n    labelSelector:\n      matchLabels: {\"a b\": c}\n", `t1.yaml:10: PropagationPolicy shop/p: spec.resourceSelectors[0].labelSelector:`},
		{"priority out of range", head + "spec:\n" + sel + "  priority: 3000000000\n", `spec.priority: 3000000000 is out of range`},
		{"bad name", "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata:\n  name: P_1\nspec:\n" + sel, `t1.yaml:4: PropagationPolicy default/P_1: metadata.name: "P_1"`},
		{"namespace on a cluster policy", "apiVersion: policy.karmada.io/v1alpha1\nkind: ClusterPropagationPolicy\nmetadata:\n  name: c\n  namespace: shop\nspec:\n" + sel, `t1.yaml:5: ClusterPropagationPolicy c: metadata.namespace: a ClusterPropagationPolicy is cluster-scoped`},
		{"spec a list", head + "spec: []\n", `t1.yaml:6: PropagationPolicy shop/p: spec: expected an object, found a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contains(t, resolveErr(t, deployWeb, tc.text), tc.want)
		})
	}
}

func TestOffValuesAccepted(t *testing.T) {
	// Fields Atoll does not implement, at the values that leave them off, as a copy read
	// back from a Karmada API server may carry them.
	ws, _ := resolveOK(t, deployWeb, `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: p
  namespace: shop
  uid: 0b7e3f1c-0000-4000-8000-000000000000
  resourceVersion: "12345"
  generation: 2
  creationTimestamp: "2025-01-01T00:00:00Z"
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  association: false
  propagateDeps: false
  schedulerName: default-scheduler
  preserveResourcesOnDeletion: false
  dependentOverrides: []
  activationPreference: ""
  suspension: null
  priority: 0
  conflictResolution: Abort
  preemption: Never
`)
	if s := find(t, ws, "web").Policy.Source; s != "PropagationPolicy shop/p" {
		t.Errorf("source %q", s)
	}
}

func TestOverrideFieldErrors(t *testing.T) {
	const who = "OverridePolicy shop/o: "
	for _, tc := range []struct {
		name, rules, want string
	}{
		{"unknown overrider", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2}\n      labelOverrider: []\n", `t1.yaml:13: ` + who + `unknown field "spec.overrideRules[0].overriders.labelOverrider"`},
		{"fieldOverrider", "  - overriders:\n      fieldOverrider:\n      - fieldPath: /data/x\n", `t1.yaml:11: ` + who + `spec.overrideRules[0].overriders.fieldOverrider: not supported by Atoll`},
		{"no overriders", "  - targetCluster: {clusterNames: [a]}\n    overriders: {}\n", `t1.yaml:11: ` + who + `spec.overrideRules[0].overriders: no overriders`},
		{"image component", "  - overriders:\n      imageOverrider:\n      - {component: Digest, operator: replace, value: v2}\n", `t1.yaml:12: ` + who + `spec.overrideRules[0].overriders.imageOverrider[0].component: "Digest": want Registry, Repository or Tag`},
		{"image operator", "  - overriders:\n      imageOverrider:\n      - component: Tag\n        operator: set\n        value: v2\n", `t1.yaml:13: ` + who + `spec.overrideRules[0].overriders.imageOverrider[0].operator: "set": want one of [add remove replace]`},
		{"image value required", "  - overriders:\n      imageOverrider:\n      - {component: Registry, operator: add}\n", `imageOverrider[0].value: required with operator add`},
		{"image value with remove", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: remove, value: v1}\n", `imageOverrider[0].value: must be empty with operator remove`},
		{"image repository remove", "  - overriders:\n      imageOverrider:\n      - {component: Repository, operator: remove}\n", `imageOverrider[0].component: removing the Repository would leave no image name`},
		{"image tag value", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: \"v 2\"}\n", `imageOverrider[0].value: "v 2" is not a tag or a digest`},
		{"image registry value", "  - overriders:\n      imageOverrider:\n      - {component: Registry, operator: replace, value: \"reg/x\"}\n", `imageOverrider[0].value: "reg/x" is not a registry host[:port]`},
		{"image repository value", "  - overriders:\n      imageOverrider:\n      - {component: Repository, operator: replace, value: Web}\n", `imageOverrider[0].value: "Web" is not a repository name`},
		{"image predicate path", "  - overriders:\n      imageOverrider:\n      - component: Tag\n        operator: replace\n        value: v2\n        predicate: {path: spec/containers/0/image}\n", `t1.yaml:15: ` + who + `spec.overrideRules[0].overriders.imageOverrider[0].predicate.path: "spec/containers/0/image": want a JSON pointer`},
		{"command replace", "  - overriders:\n      commandOverrider:\n      - {containerName: web, operator: replace, value: [a]}\n", `commandOverrider[0].operator: "replace": want one of [add remove]`},
		{"args container", "  - overriders:\n      argsOverrider:\n      - {operator: add, value: [a]}\n", `argsOverrider[0].containerName: required`},
		{"label key", "  - overriders:\n      labelsOverrider:\n      - operator: add\n        value: {\"bad key\": x}\n", `t1.yaml:13: ` + who + `spec.overrideRules[0].overriders.labelsOverrider[0].value.bad key: key "bad key"`},
		{"label value", "  - overriders:\n      labelsOverrider:\n      - operator: add\n        value: {k: \"a b\"}\n", `labelsOverrider[0].value.k: value "a b"`},
		{"annotation key", "  - overriders:\n      annotationsOverrider:\n      - operator: replace\n        value: {\"/x\": y}\n", `annotationsOverrider[0].value./x: key "/x"`},
		{"env name", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: add\n        value:\n        - {name: \"1X\", value: a}\n", `t1.yaml:15: ` + who + `spec.overrideRules[0].overriders.envOverrider[0].value[0].name: "1X"`},
		{"env twice", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: add\n        value: [{name: X}, {name: X}]\n", `envOverrider[0].value[1].name: "X" listed twice`},
		{"env unknown field", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: add\n        value:\n        - {name: X, valueFrom: {}}\n", `unknown field "spec.overrideRules[0].overriders.envOverrider[0].value[0].valueFrom"`},
		{"plaintext operator", "  - overriders:\n      plaintext:\n      - {path: /spec/replicas, operator: test, value: 1}\n", `plaintext[0].operator: "test": want one of [add remove replace]`},
		{"plaintext path", "  - overriders:\n      plaintext:\n      - {path: spec.replicas, operator: replace, value: 1}\n", `plaintext[0].path: "spec.replicas": want a JSON pointer`},
		{"plaintext value required", "  - overriders:\n      plaintext:\n      - {path: /spec/replicas, operator: replace}\n", `plaintext[0].value: required with operator replace`},
		{"plaintext value with remove", "  - overriders:\n      plaintext:\n      - {path: /spec/replicas, operator: remove, value: 1}\n", `plaintext[0].value: must be empty with operator remove`},
		{"target cluster", "  - targetCluster:\n      labelSelector: {matchLabels: {\"a b\": c}}\n    overriders:\n      plaintext:\n      - {path: /spec/replicas, operator: remove}\n", `t1.yaml:10: ` + who + `spec.overrideRules[0].targetCluster: labelSelector:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contains(t, resolveErr(t, deployWeb, op("o", selWeb1, tc.rules)), tc.want)
		})
	}
}

func TestOverrideFormErrors(t *testing.T) {
	legacy := "apiVersion: policy.karmada.io/v1alpha1\nkind: OverridePolicy\nmetadata: {name: o, namespace: shop}\nspec:\n  resourceSelectors:\n" + selByName
	contains(t, resolveErr(t, deployWeb, legacy+"  targetCluster: {clusterNames: [a]}\n  overrideRules:\n"+imageRule),
		`t1.yaml:9: OverridePolicy shop/o: spec.targetCluster: cannot be set with overrideRules`)
	contains(t, resolveErr(t, deployWeb, legacy+"  overriders:\n    plaintext: [{path: /a, operator: remove}]\n  overrideRules:\n"+imageRule),
		`t1.yaml:9: OverridePolicy shop/o: spec.overriders: cannot be set with overrideRules`)
	contains(t, resolveErr(t, deployWeb, legacy),
		`t1.yaml:4: OverridePolicy shop/o: spec: no overrideRules (nor the older targetCluster and overriders)`)
	contains(t, resolveErr(t, deployWeb, legacy+"  overriders:\n    imageOverrider: [{component: Tag, operator: add}]\n"),
		`t1.yaml:10: OverridePolicy shop/o: spec.overriders.imageOverrider[0].value: required with operator add`)
	if msg := resolveErr(t, deployWeb, strings.Replace(op("o", selByName, imageRule), "namespace: shop", "namespace: shop\n  ownerReferences: [{}]", 1)); !strings.Contains(msg, "metadata.ownerReferences: not supported by Atoll") {
		t.Error(msg)
	}
}
