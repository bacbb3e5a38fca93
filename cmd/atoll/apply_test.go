package main

import (
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/policy"
)

func TestWorkloadChanges(t *testing.T) {
	ws := []policy.Workload{
		{Key: "shop/web", APIVersion: "apps/v1", Kind: "Deployment", Replicas: 3, Template: []byte(`{"kind":"Deployment"}`)},
		{Key: "bank/ledger", APIVersion: "apps/v1", Kind: "Deployment", Replicas: 2, Bound: []string{"EU"}, Template: []byte(`{"kind":"Deployment","secret":1}`),
			Overrides: []policy.Rule{{}}},
		{Key: "shop/service.web", APIVersion: "v1", Kind: "Service", Replicas: -1, Template: []byte(`{"kind":"Service"}`)},
	}
	chs, err := workloadChanges(ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 || strings.Join(chs[0].keys, ",") != "shop/web,shop/service.web" || strings.Join(chs[1].keys, ",") != "bank/ledger" {
		t.Fatalf("changes %+v: want the unbounded workloads together and the EU one apart", chs)
	}
	for _, op := range chs[0].ops {
		if op.Type == crdt.OpSeal {
			t.Errorf("unbounded workload sealed %s", op.Field)
		}
		if op.Key == "shop/service.web" && op.Field == "replicas" && op.Type != crdt.OpDelete {
			t.Errorf("a Service got replicas: %+v", op)
		}
	}
	sealed := 0
	for _, op := range chs[1].ops {
		if op.Type == crdt.OpSeal {
			sealed++
		}
		if op.Type == crdt.OpSet && (op.Field == "template" || op.Field == "overrides") {
			t.Errorf("bounded body %s written in the clear", op.Field)
		}
	}
	if sealed != 2 || len(chs[1].bodies) != 2 || strings.Join(chs[1].bound, ",") != "EU" {
		t.Errorf("bounded change: %d sealed ops, %d bodies, bound %v; want template and overrides sealed to EU", sealed, len(chs[1].bodies), chs[1].bound)
	}
	if err := check(chs); err != nil {
		t.Errorf("check: %v", err)
	}
	big := []policy.Workload{{Key: "shop/big", APIVersion: "v1", Kind: "ConfigMap", Replicas: -1, Template: []byte(strings.Repeat("x", crdt.MaxValueBytes+1))}}
	chs, err = workloadChanges(big)
	if err == nil {
		err = check(chs)
	}
	if err == nil || !strings.Contains(err.Error(), "shop/big") {
		t.Errorf("oversized template: err = %v, want an error naming the workload", err)
	}
}

// TestReplicasLimitsAgree: the CLI checks manifests against the limit sites enforce.
func TestReplicasLimitsAgree(t *testing.T) {
	if policy.DefaultMaxReplicas != crdt.DefaultMaxReplicas {
		t.Fatalf("policy.DefaultMaxReplicas %d, crdt.DefaultMaxReplicas %d", policy.DefaultMaxReplicas, crdt.DefaultMaxReplicas)
	}
}
