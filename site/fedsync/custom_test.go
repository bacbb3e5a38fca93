package fedsync

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestCRDKind: the kind a CRD makes synced is read from the CRD once it is Established,
// at the version it stores; the API server's own CRDs and CRDs of Kubernetes' groups are
// never synced.
func TestCRDKind(t *testing.T) {
	crd := func(name, group, scope, established string, versions string) *unstructured.Unstructured {
		y := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ` + name + `}
spec:
  group: ` + group + `
  names: {kind: Widget, plural: widgets}
  scope: ` + scope + `
  versions: ` + versions + `
status: {conditions: [{type: Established, status: "` + established + `"}]}
`
		var m map[string]any
		if err := yaml.Unmarshal([]byte(y), &m); err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	two := `[{name: v1beta1, served: true, storage: false}, {name: v1, served: true, storage: true}]`
	for _, c := range []struct {
		name string
		u    *unstructured.Unstructured
		want string // apiVersion/plural namespaced, or "" for not synced
	}{
		{"namespaced, stored at v1", crd("widgets.example.com", "example.com", "Namespaced", "True", two), "example.com/v1/widgets true"},
		{"cluster-scoped", crd("widgets.example.com", "example.com", "Cluster", "True", two), "example.com/v1/widgets false"},
		{"not established", crd("widgets.example.com", "example.com", "Namespaced", "False", two), ""},
		{"the API server's own", crd("widgets.policy.karmada.io", "policy.karmada.io", "Namespaced", "True", two), ""},
		{"a Kubernetes group", crd("widgets.x.k8s.io", "x.k8s.io", "Namespaced", "True", two), ""},
		{"no stored version served", crd("widgets.example.com", "example.com", "Namespaced", "True", `[{name: v1, served: false, storage: true}]`), ""},
	} {
		k, ok := crdKind(c.u)
		got := ""
		if ok {
			got = k.gvr.Group + "/" + k.gvr.Version + "/" + k.gvr.Resource
			if k.namespaced {
				got += " true"
			} else {
				got += " false"
			}
			if k.kind != "Widget" || k.policy {
				t.Errorf("%s: kind %+v", c.name, k)
			}
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
