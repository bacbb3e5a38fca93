package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"atoll/deploy/testenv"
	"atoll/site"
)

// TestMemberClusters joins real member clusters (kube-apiserver, controller-manager,
// scheduler, kwok) to two sites: each site publishes its clusters' health and capacity,
// the other site sees them, a cluster that goes down is reported unhealthy within a
// bounded time, and an unjoined cluster disappears from the state.
func TestMemberClusters(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2, NodeCPU: "4", NodeMemory: "16Gi"})
	f := start(t, Options{Sites: 2, Tune: func(_ int, c *site.Config) { c.Observe = site.Duration(500 * time.Millisecond) }})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, map[string]string{"tier": "test"})
	// Site 1 sees site 0's cluster, as site 0 published it.
	key := f.Names[0] + "/c0"
	waitField := func(what string, ok func(map[string]site.ObjectField) bool) {
		t.Helper()
		start := time.Now()
		for {
			obj, err := f.Client(1).Object(ctx, "cluster", key)
			if err != nil {
				t.Fatal(err)
			}
			if ok(obj) {
				t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v; last %+v", what, ctx.Err(), obj)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitField("healthy with capacity at the other site", func(o map[string]site.ObjectField) bool {
		return o["health"].Value == "healthy" && o["readyNodes"].Value == "2" && o["allocatable/cpu"].Value == "8" &&
			o["k8sVersion"].Value == "v1.37.2" && o["labels/tier"].Value == "test" && o["available/node/"+nodeName(o)].Value != ""
	})
	// StopCluster returns once every process has exited, which takes the apiserver about
	// 10 s; its /readyz fails as soon as it starts shutting down.
	down := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- env.StopCluster(env.Clusters()[0].Name) }()
	waitField("unhealthy at the other site", func(o map[string]site.ObjectField) bool { return o["health"].Value == "unhealthy" })
	if d := time.Since(down); d > 10*time.Second {
		t.Errorf("cluster down reported after %v", d)
	} else {
		t.Logf("cluster down reported at the other site %v after SIGTERM", d.Round(time.Millisecond))
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// The cluster is down: unjoin goes through, and says Atoll's objects may remain there.
	if warning, err := f.Client(0).UnjoinCluster(ctx, "c0"); err != nil || !strings.Contains(warning, "may remain") {
		t.Fatalf("unjoin of a cluster that is down: warning %q, error %v", warning, err)
	}
	waitField("gone after unjoin", func(o map[string]site.ObjectField) bool { return o == nil })
	if list, err := f.Client(0).Clusters(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("site 0 still lists %v (%v)", list, err)
	}
}

// nodeName returns the name of some node in the fields, "" if none.
func nodeName(o map[string]site.ObjectField) string {
	for k := range o {
		if len(k) > len("available/node/") && k[:len("available/node/")] == "available/node/" {
			return k[len("available/node/"):]
		}
	}
	return ""
}
