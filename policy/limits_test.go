package policy

import (
	"strings"
	"testing"
)

func TestCheckReplicas(t *testing.T) {
	objs, err := Parse("app.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: shop}
spec:
  replicas: 100001
  template: {spec: {containers: [{name: c, image: nginx}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge, namespace: shop}
spec:
  replicas: 100000
  template: {spec: {containers: [{name: c, image: nginx}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := Resolve(objs)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckReplicas(ws, DefaultMaxReplicas)
	if err == nil || !strings.Contains(err.Error(), "app.yaml:1: Deployment shop/big: spec.replicas 100001 is above the federation's limit of 100000") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "edge") {
		t.Errorf("a workload at the limit refused: %v", err)
	}
	if err := CheckReplicas(ws, 200_000); err != nil {
		t.Errorf("under a charter granting 200000: %v", err)
	}
}
