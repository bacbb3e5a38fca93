package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/scheduler"
)

// parseAll parses each text as its own file, t0.yaml, t1.yaml, ...
func parseAll(t *testing.T, texts ...string) []Object {
	t.Helper()
	var objs []Object
	for i, text := range texts {
		o, err := Parse("t"+string(rune('0'+i))+".yaml", []byte(text))
		if err != nil {
			t.Fatalf("parse t%d.yaml: %v", i, err)
		}
		objs = append(objs, o...)
	}
	return objs
}

// resolveOK resolves texts that must resolve.
func resolveOK(t *testing.T, texts ...string) ([]Workload, []string) {
	t.Helper()
	ws, notes, err := Resolve(parseAll(t, texts...))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return ws, notes
}

// resolveErr resolves texts that must fail, and returns the error text.
func resolveErr(t *testing.T, texts ...string) string {
	t.Helper()
	_, _, err := Resolve(parseAll(t, texts...))
	if err == nil {
		t.Fatalf("Resolve: no error")
	}
	return err.Error()
}

// loadOK loads files that must load and resolve.
func loadOK(t *testing.T, paths ...string) ([]Workload, []string) {
	t.Helper()
	objs, err := Load(paths, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ws, notes, err := Resolve(objs)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return ws, notes
}

// find returns the workload named name.
func find(t *testing.T, ws []Workload, name string) Workload {
	t.Helper()
	for _, w := range ws {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no workload %q among %d", name, len(ws))
	return Workload{}
}

// member is a cluster of site "s1".
func member(name string, labels map[string]string) *scheduler.Cluster {
	return &scheduler.Cluster{Site: "s1", Name: name, Labels: labels, Region: "cn-north-1"}
}

// render applies a workload's overrides for a cluster to its template.
func render(t *testing.T, w Workload, c *scheduler.Cluster) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(w.Template); err != nil {
		t.Fatal(err)
	}
	if err := Apply(u, w.Overrides, c); err != nil {
		t.Fatalf("Apply for %s: %v", c.Name, err)
	}
	return u
}

// field reads a nested field for assertions, as JSON.
func field(t *testing.T, u *unstructured.Unstructured, path ...string) string {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// contains fails unless s holds every part.
func contains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("missing %q in:\n%s", p, s)
		}
	}
}

const deployWeb = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
    tier: front
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.0
        command: [./web]
        env:
        - name: MODE
          value: prod
      - name: sidecar
        image: envoy:1.30
`
