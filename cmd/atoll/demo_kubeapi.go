//go:build !release

package main

import (
	"context"
	"fmt"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// demoKubeAPI is the site that serves the federation's Kubernetes API in the demo.
const demoKubeAPI = 0

// kubeAPIConfig is the admin kubeconfig of the demo's Kubernetes API.
func (d *demo) kubeAPIConfig() string {
	return filepath.Join(d.opts.dir, "data", demoSites[demoKubeAPI].Name, "kubeapi", "fedapi", "admin.kubeconfig")
}

// waitKubeAPI waits until the Kubernetes API of the demo's site shows the workloads
// applied with atoll apply.
func (d *demo) waitKubeAPI(ctx context.Context) (string, error) {
	err := demoPoll(ctx, func() (bool, error) {
		rc, err := clientcmd.BuildConfigFromFlags("", d.kubeAPIConfig())
		if err != nil {
			return false, fmt.Errorf("%s has no Kubernetes API yet: %w", demoSites[demoKubeAPI].Name, err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return false, err
		}
		ds, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("%s's Kubernetes API: %w", demoSites[demoKubeAPI].Name, err)
		}
		// The EU-bound ledger is not there: us-east does not hold its body.
		have := map[string]bool{}
		for _, dep := range ds.Items {
			have[dep.Namespace+"/"+dep.Name] = true
		}
		for _, k := range []string{"default/web", "default/api"} {
			if !have[k] {
				return false, fmt.Errorf("%s's Kubernetes API does not show %s yet", demoSites[demoKubeAPI].Name, k)
			}
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s serves the federation's Kubernetes API (a kube-apiserver with Karmada's policy CRDs): kubectl and Helm work there", demoSites[demoKubeAPI].Name), nil
}
