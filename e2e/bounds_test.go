package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// TestReplicasBound: an operator hand-signs (bypassing the CLI) a workload with replicas =
// 9e18, which froze every site's reconciler and view before the limit and the closed-form
// division. Every site refuses it with the reason; a workload written after it is seen
// everywhere; a workload at exactly the limit is accepted; and GET /v1/view answers in
// under a second at every site throughout. atoll apply refuses a manifest above the limit
// before sending anything. No member clusters are needed.
func TestReplicasBound(t *testing.T) {
	f := start(t, Options{Sites: 3})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	workload := func(key, replicas string) []crdt.Op {
		set := func(field, v string) crdt.Op {
			return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: field, Value: []byte(v)}
		}
		return embedPlacement([]crdt.Op{set("apiVersion", "apps/v1"), set("kind", "Deployment"), set("replicas", replicas)})
	}
	// signed prepares a change at site i and signs it with the operator's key.
	signed := func(i int, ops []crdt.Op) *crdt.Envelope {
		prep, err := f.Client(i).Prepare(ctx, ops, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := crdt.Sign(prep, nil, f.Operator)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	// fastViews checks that every site answers GET /v1/view within a second, and returns
	// the views.
	fastViews := func(what string) []site.View {
		var out []site.View
		for i := range f.Names {
			start := time.Now()
			v, err := f.Client(i).View(ctx)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("%s: view of %s: %v", what, f.Names[i], err)
			}
			t.Logf("%s: GET /v1/view at %s: %v", what, f.Names[i], took)
			if took >= time.Second {
				t.Errorf("%s: GET /v1/view at %s took %v", what, f.Names[i], took)
			}
			out = append(out, v)
		}
		return out
	}

	// Each site publishes a healthy cluster (hand-signed with its key: no Kubernetes), so
	// that every workload is divided across the sites and within them.
	for i, name := range f.Names {
		key, err := site.LoadKeyFile(filepath.Join(f.opts.Dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		prep, err := f.Client(i).Prepare(ctx, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey(name, "c1"), Field: "health", Value: []byte("healthy")}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := crdt.Sign(prep, nil, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Client(i).Submit(ctx, env.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	// The change below is prepared on site 0's heads and submitted everywhere: every site
	// must hold them first, or it answers that the change depends on what it lacks.
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	huge := signed(0, workload("shop/huge", "9000000000000000000"))
	for i := range f.Names {
		_, err := f.Client(i).Submit(ctx, huge.Encode())
		if err == nil || !strings.Contains(err.Error(), "replicas 9000000000000000000: above the limit of 100000") {
			t.Fatalf("%s accepted replicas = 9e18 or did not say why: %v", f.Names[i], err)
		}
	}
	fastViews("after the refusal")

	// A normal workload written after it, at another site, is seen everywhere.
	ok := signed(1, workload("shop/ok", "3"))
	if _, err := f.Client(1).Submit(ctx, ok.Encode()); err != nil {
		t.Fatal(err)
	}
	waitWorkload(t, ctx, f, "shop/ok", 3)
	for i, v := range fastViews("with shop/ok") {
		if slices.ContainsFunc(v.Workloads, func(w site.WorkloadView) bool { return w.Workload == "shop/huge" }) {
			t.Errorf("%s shows the refused workload", f.Names[i])
		}
	}

	// Exactly the limit is accepted, and divided at every site without delay.
	edge := signed(2, workload("shop/edge", strconv.Itoa(crdt.DefaultMaxReplicas)))
	if _, err := f.Client(2).Submit(ctx, edge.Encode()); err != nil {
		t.Fatalf("replicas = %d: %v", crdt.DefaultMaxReplicas, err)
	}
	waitWorkload(t, ctx, f, "shop/edge", crdt.DefaultMaxReplicas)
	for i, v := range fastViews("with shop/edge") {
		for _, w := range v.Workloads {
			placed := 0
			for _, s := range w.Sites {
				for _, c := range s.Clusters {
					placed += c.Replicas
				}
			}
			if w.Workload == "shop/edge" && (placed != crdt.DefaultMaxReplicas || len(w.Sites) != len(f.Names)) {
				t.Errorf("%s divides shop/edge as %+v", f.Names[i], w.Sites)
			}
		}
	}

	// The CLI refuses a manifest above the limit, naming it, and sends nothing.
	manifest := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: shop}
spec:
  replicas: 100001
  template: {spec: {containers: [{name: c, image: registry.invalid/c}]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, binary, "apply", "-f", manifest, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "big.yaml:1: Deployment shop/big: spec.replicas 100001 is above the federation's limit of 100000") ||
		!strings.Contains(string(out), "nothing was sent") {
		t.Fatalf("apply of 100001 replicas: err %v, output %q", err, out)
	}
}

// waitWorkload waits until every site's view shows the workload with those replicas and
// no error.
func waitWorkload(t *testing.T, ctx context.Context, f *Fed, key string, replicas int) {
	t.Helper()
	for {
		seen := 0
		for i := range f.Names {
			v, err := f.Client(i).View(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(v.Workloads, func(w site.WorkloadView) bool {
				return w.Workload == key && w.Replicas == replicas && w.Error == ""
			}) {
				seen++
			}
		}
		if seen == len(f.Names) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s with %d replicas not seen at every site: %v", key, replicas, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
