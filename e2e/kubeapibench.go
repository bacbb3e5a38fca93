package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/deploy/testenv"
	"atoll/site"
)

// KubeAPIReport is the outcome of RunKubeAPI.
type KubeAPIReport struct {
	// Kubectl is from starting `kubectl apply -f` against site 0's Kubernetes API until
	// the Deployment exists in site 1's cluster; Atoll the same with `atoll apply -f`
	// through site 0's local API. Samples alternate in one run; both include starting
	// the CLI process, as a user would.
	Kubectl Quantiles `json:"kubectl_apply_to_deployment"`
	Atoll   Quantiles `json:"atoll_apply_to_deployment"`
	// KubectlExit and AtollExit are until each CLI exits, its write acknowledged.
	KubectlExit Quantiles `json:"kubectl_exit"`
	AtollExit   Quantiles `json:"atoll_exit"`
}

// kubeAPIBenchPolicy places every Deployment of namespace lat in site 1's cluster.
const kubeAPIBenchPolicy = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: lat, namespace: lat}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {clusterNames: [CLUSTER]}
    replicaScheduling: {replicaSchedulingType: Duplicated}
`

// RunKubeAPI measures the latency of a write through a site's Kubernetes API (the real
// kubectl) against the same write through atoll apply, each to the Deployment existing
// in another site's real cluster.
func RunKubeAPI(ctx context.Context, o Options, samples int) (KubeAPIReport, error) {
	var rep KubeAPIReport
	bin, err := testenv.BinDir()
	if err != nil {
		return rep, err
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(o.Dir, "kube"), Clusters: 1})
	if err != nil {
		return rep, err
	}
	defer env.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Clusters()[0].Kubeconfig)
	if err != nil {
		return rep, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return rep, err
	}
	tune := o.Tune
	o.Tune = func(i int, c *site.Config) {
		if tune != nil {
			tune(i, c)
		}
		if i == 0 {
			c.KubeAPI = &site.KubeAPIConfig{OperatorKey: "operator.key"}
		}
	}
	f, err := startPair(ctx, o, env)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	kc := filepath.Join(f.opts.Dir, "data", f.Names[0], "kubeapi", "fedapi", "admin.kubeconfig")
	kubectl := func(stdin string, args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := f.waitFor(ctx, "site 0's Kubernetes API, its CRDs established", func(map[int]site.State) bool {
		return kubectl("", "get", "propagationpolicies", "-A") == nil
	}); err != nil {
		return rep, err
	}
	if err := kubectl("apiVersion: v1\nkind: Namespace\nmetadata: {name: lat}\n", "apply", "-f", "-"); err != nil {
		return rep, err
	}
	pol := strings.ReplaceAll(kubeAPIBenchPolicy, "CLUSTER", f.Names[1]+"/c0")
	if err := kubectl(pol, "apply", "-f", "-"); err != nil {
		return rep, err
	}
	dir := filepath.Join(f.opts.Dir, "lat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, err
	}
	exists := func(name string) error {
		for {
			_, err := cs.AppsV1().Deployments("lat").Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				return nil
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("deployment lat/%s: %w", name, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	var viaKubectl, viaAtoll, kubectlExit, atollExit []time.Duration
	for i := range 2 * samples {
		name := fmt.Sprintf("l%d", i)
		manifest := strings.ReplaceAll(strings.Replace(benchTemplate, "metadata: {name: %s}", "metadata: {name: %s, namespace: lat}", 1), "%s", name)
		start := time.Now()
		if i%2 == 0 {
			if err := kubectl(manifest, "apply", "-f", "-"); err != nil {
				return rep, err
			}
			kubectlExit = append(kubectlExit, time.Since(start))
		} else {
			// The policy is stored: atoll apply of the manifest alone places it too.
			path := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
				return rep, err
			}
			cmd := exec.CommandContext(ctx, o.Binary, "apply", "-f", path, "--key", filepath.Join(f.opts.Dir, "operator.key"), "--site", f.configs[0])
			if out, err := cmd.CombinedOutput(); err != nil {
				return rep, fmt.Errorf("atoll apply: %w\n%s", err, out)
			}
			atollExit = append(atollExit, time.Since(start))
		}
		if err := exists(name); err != nil {
			return rep, err
		}
		if i%2 == 0 {
			viaKubectl = append(viaKubectl, time.Since(start))
		} else {
			viaAtoll = append(viaAtoll, time.Since(start))
		}
	}
	rep.Kubectl, rep.Atoll = quantiles(viaKubectl), quantiles(viaAtoll)
	rep.KubectlExit, rep.AtollExit = quantiles(kubectlExit), quantiles(atollExit)
	return rep, nil
}
