package migrate

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func objs(t *testing.T, docs ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// What a Karmada control plane returns: a policy as its controllers left it, and
// templates with what the API server and Karmada added.
const (
	pp = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: web
  namespace: shop
  uid: 1b2c
  resourceVersion: "42"
  generation: 3
  labels: {propagationpolicy.karmada.io/permanent-id: abc, team: web}
  finalizers: [karmada.io/propagation-policy-controller]
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: web}
  - {apiVersion: v1, kind: Service, name: web}
  conflictResolution: Abort
  placement:
    clusterAffinity: {clusterNames: [member1, member2]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [member1]}, weight: 2}
        - {targetCluster: {clusterNames: [member2]}, weight: 1}
status: {}
`
	deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: 9f8e
  resourceVersion: "7"
  labels: {app: web, propagationpolicy.karmada.io/name: web}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}", owner: team-web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.invalid/web:1}]}
status: {replicas: 3}
`
	service = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.0.0.12
  clusterIPs: [10.0.0.12]
  ipFamilies: [IPv4]
  selector: {app: web}
  ports: [{port: 80}]
`
	unselected = `apiVersion: v1
kind: ConfigMap
metadata: {name: notes, namespace: shop}
data: {a: b}
`
	rootCA = `apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: shop}
data: {ca.crt: x}
`
)

func TestConvert(t *testing.T) {
	clusters := map[string]string{"member1": "us-east/prod-1", "member2": "eu-west/prod-2"}
	res, err := Convert(objs(t, pp), objs(t, deployment, service, unselected, rootCA), Options{Clusters: clusters, Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Policies != 1 || res.Templates != 2 || len(res.Docs) != 3 {
		t.Fatalf("%d policies, %d templates, %d docs", res.Policies, res.Templates, len(res.Docs))
	}
	all := string(res.Docs[0]) + "---\n" + string(res.Docs[1]) + "---\n" + string(res.Docs[2])
	for _, want := range []string{"conflictResolution: Overwrite", "- us-east/prod-1\n", "- eu-west/prod-2\n", "team: web", "owner: team-web", "replicas: 3", "port: 80"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
	for _, gone := range []string{"member1", "uid", "resourceVersion", "generation", "permanent-id", "propagationpolicy.karmada.io/name", "last-applied", "finalizers", "status", "clusterIP", "ipFamilies"} {
		if strings.Contains(all, gone) {
			t.Errorf("%q left in\n%s", gone, all)
		}
	}
	if want := []string{"ConfigMap shop/notes"}; strings.Join(res.Skipped, "|") != strings.Join(want, "|") || res.System != 1 {
		t.Errorf("skipped %q and %d of the API server's, want %q and 1", res.Skipped, res.System, want)
	}
	// The caller's objects are not changed.
	in := objs(t, pp)
	if _, err := Convert(in, nil, Options{Clusters: clusters}); err != nil || !strings.Contains(yamlOf(t, in[0]), "member1") {
		t.Errorf("the input changed: %v\n%s", err, yamlOf(t, in[0]))
	}
	// Without Adopt, the policy keeps its own conflictResolution.
	res, err = Convert(objs(t, pp), nil, Options{Clusters: clusters})
	if err != nil || !strings.Contains(string(res.Docs[0]), "conflictResolution: Abort") {
		t.Errorf("without Adopt: %v\n%s", err, res.Docs)
	}
}

func TestConvertRefuses(t *testing.T) {
	if _, err := Convert(objs(t, pp), nil, Options{Clusters: map[string]string{"member1": "us-east/prod-1"}}); err == nil ||
		!strings.Contains(err.Error(), `PropagationPolicy shop/web: Karmada cluster "member2" has no Atoll cluster: map it with --cluster member2=<site>/<cluster>`) {
		t.Errorf("an unmapped cluster: %v", err)
	}
	bad := strings.Replace(pp, "conflictResolution: Abort", "failover: {cluster: {purgeMode: Directly}}", 1)
	if _, err := Convert(objs(t, bad), nil, Options{Clusters: map[string]string{"member1": "a/b", "member2": "c/d"}}); err == nil || !strings.Contains(err.Error(), "spec.failover.cluster: not supported") {
		t.Errorf("a field Atoll does not read: %v", err)
	}
	if _, err := Convert(objs(t, deployment), nil, Options{}); err == nil || !strings.Contains(err.Error(), "Deployment shop/web: not a Karmada policy") {
		t.Errorf("a template as a policy: %v", err)
	}
}

func yamlOf(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
