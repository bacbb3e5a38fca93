package e2e

import (
	"context"
	"os"
	"testing"

	"atoll/deploy/testenv"
	"atoll/site"
)

// startClusters starts the member clusters of o for a test, stopped when it ends; the
// test is skipped when the Kubernetes binaries were not built.
func startClusters(t *testing.T, o testenv.Options) *testenv.Env {
	t.Helper()
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	o.Dir = shortTempDir(t)
	env, err := testenv.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	return env
}

// joinClusters joins cluster i of env to site i of f, named c<i>, with labels.
func joinClusters(ctx context.Context, t *testing.T, f *Fed, env *testenv.Env, labels map[string]string) {
	t.Helper()
	for i, c := range env.Clusters() {
		kc, err := os.ReadFile(c.AtollKubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Client(i).JoinCluster(ctx, site.JoinRequest{Name: "c" + Seq(i), Kubeconfig: string(kc), Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
}
