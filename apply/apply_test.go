package apply

import (
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/policy"
)

// TestApplyChanges: one change per bound, policies stored in the unbounded one, bounded
// templates sealed, and what an earlier release stored with a workload deleted.
func TestApplyChanges(t *testing.T) {
	objs, err := policy.Parse("p.yaml", []byte(`apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: all}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
`))
	if err != nil {
		t.Fatal(err)
	}
	_, ps, _, err := policy.Split(objs)
	if err != nil || len(ps) != 1 {
		t.Fatalf("policies %v, err %v", ps, err)
	}
	ws := []policy.Workload{
		{Key: "shop/web", APIVersion: "apps/v1", Kind: "Deployment", Replicas: 3, Template: []byte(`{"kind":"Deployment"}`), Labels: map[string]string{"tier": "web"}},
		{Key: "bank/ledger", APIVersion: "apps/v1", Kind: "Deployment", Replicas: 2, Bound: []string{"EU"}, Template: []byte(`{"kind":"Deployment","secret":1}`),
			Overrides: []policy.Rule{{}}},
		{Key: "shop/service.web", APIVersion: "v1", Kind: "Service", Replicas: -1, Template: []byte(`{"kind":"Service"}`)},
	}
	chs, err := Changes(ws, ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 || strings.Join(chs[0].Keys, ",") != "clusterpropagationpolicy/all,shop/web,shop/service.web" || strings.Join(chs[1].Keys, ",") != "bank/ledger" {
		t.Fatalf("changes %+v: want the policy and the unbounded workloads together and the EU one apart", chs)
	}
	deleted := map[string]bool{}
	for _, op := range chs[0].Ops {
		if op.Type == crdt.OpSeal {
			t.Errorf("unbounded workload sealed %s", op.Field)
		}
		if op.Key == "shop/service.web" && op.Field == "replicas" && op.Type != crdt.OpDelete {
			t.Errorf("a Service got replicas: %+v", op)
		}
		if op.Key == "shop/web" && op.Field == "labels" && string(op.Value) != `{"tier":"web"}` {
			t.Errorf("labels %s", op.Value)
		}
		if op.Type == crdt.OpDelete && op.Key == "shop/web" {
			deleted[op.Field] = true
		}
		if op.Kind == crdt.KindPolicy && !strings.Contains(string(op.Value), `"ClusterPropagationPolicy"`) {
			t.Errorf("policy stored as %s", op.Value)
		}
	}
	if !deleted["placement"] || !deleted["overrides"] {
		t.Errorf("the placement and overrides an earlier release stored are kept: deleted %v", deleted)
	}
	sealed := 0
	for _, op := range chs[1].Ops {
		if op.Type == crdt.OpSeal {
			sealed++
		}
		if op.Type == crdt.OpSet && (op.Field == "template" || op.Field == "overrides") {
			t.Errorf("bounded body %s written in the clear", op.Field)
		}
	}
	if sealed != 1 || len(chs[1].Bodies) != 1 || strings.Join(chs[1].Bound, ",") != "EU" {
		t.Errorf("bounded change: %d sealed ops, %d bodies, bound %v; want the template sealed to EU", sealed, len(chs[1].Bodies), chs[1].Bound)
	}
	if err := Check(chs); err != nil {
		t.Errorf("check: %v", err)
	}
	big := []policy.Workload{{Key: "shop/big", APIVersion: "v1", Kind: "ConfigMap", Replicas: -1, Template: []byte(strings.Repeat("x", crdt.MaxValueBytes+1))}}
	chs, err = Changes(big, nil)
	if err == nil {
		err = Check(chs)
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

// TestJobsLevelsAgree: the CLI checks a divided Job against the format level at which
// sites divide one.
func TestJobsLevelsAgree(t *testing.T) {
	if policy.JobsLevel != crdt.FormatJobs {
		t.Fatalf("policy.JobsLevel %d, crdt.FormatJobs %d", policy.JobsLevel, crdt.FormatJobs)
	}
	if policy.FailoverLevel != crdt.FormatFailover {
		t.Fatalf("policy.FailoverLevel %d, crdt.FormatFailover %d", policy.FailoverLevel, crdt.FormatFailover)
	}
}
