package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/migrate"
	"atoll/policy"
)

// importPolicies and importTemplates are what `atoll import` reads from a Karmada API
// server: its four kinds of policies, and the templates of the kinds sites run.
var (
	importPolicies = []schema.GroupVersionResource{
		{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "propagationpolicies"},
		{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "clusterpropagationpolicies"},
		{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "overridepolicies"},
		{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "clusteroverridepolicies"},
	}
	importTemplates = []schema.GroupVersionResource{
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apps", Version: "v1", Resource: "daemonsets"},
		{Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "batch", Version: "v1", Resource: "cronjobs"},
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "persistentvolumeclaims"},
		{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
		{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
		{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
		{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	}
)

func newImportCmd() *cobra.Command {
	var from, kctx, out string
	var clusters []string
	var adopt, dryRun bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "import --from KUBECONFIG --cluster NAME=SITE/CLUSTER ... [--out DIR | --dry-run]",
		Short: "Take over from a running Karmada control plane: its policies and templates, and in place, the objects it made",
		Long: `Import reads a Karmada control plane through its API server (--from, a kubeconfig): its
PropagationPolicies, ClusterPropagationPolicies, OverridePolicies and
ClusterOverridePolicies, and the templates they select, of the kinds sites run. It
renames Karmada's clusters to Atoll's (--cluster member1=us-east/prod-1, for each one the
policies name), leaves out what the API server and Karmada's controllers added to each
object, and stores the result as atoll apply does, signed with your operator key.

With --adopt (the default), every propagation policy says conflictResolution:
Overwrite, so that the objects Karmada created in the member clusters are taken over in
place, without restarting their pods, at the sites whose site.yaml sets admission.adopt:
true (set it for the cutover). Stop Karmada's controllers first (scale
karmada-controller-manager to 0): two control planes must not apply one object.

--out DIR writes the manifests to DIR/import.yaml instead, to read (and apply) later.`,
		Example: `  atoll import --from karmada.kubeconfig --cluster member1=us-east/prod-1 --cluster member2=eu-west/prod-2 --out migration/
  atoll import --from karmada.kubeconfig --cluster member1=us-east/prod-1 --key operator.pem --site us-east.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := w.check(cmd); err != nil {
				return err
			}
			names := map[string]string{}
			for _, c := range clusters {
				k, v, ok := strings.Cut(c, "=")
				if !ok || k == "" || strings.Count(v, "/") != 1 || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") {
					return fmt.Errorf("--cluster %q: want KARMADA-NAME=SITE/CLUSTER", c)
				}
				names[k] = v
			}
			rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: from}
			rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
			if err != nil {
				return fmt.Errorf("--from %s: %w", from, err)
			}
			dyn, err := dynamic.NewForConfig(rc)
			if err != nil {
				return err
			}
			list := func(gvrs []schema.GroupVersionResource, optional bool) ([]map[string]any, error) {
				var objs []map[string]any
				for _, gvr := range gvrs {
					l, err := dyn.Resource(gvr).List(cmd.Context(), metav1.ListOptions{})
					if apierrors.IsNotFound(err) && optional {
						fmt.Fprintf(cmd.ErrOrStderr(), "note: the API server serves no %s\n", gvr.GroupResource())
						continue
					}
					if err != nil {
						return nil, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
					}
					for _, it := range l.Items {
						objs = append(objs, it.Object)
					}
				}
				return objs, nil
			}
			ps, err := list(importPolicies, false)
			if err != nil {
				return fmt.Errorf("%w (is --from a Karmada API server?)", err)
			}
			ts, err := list(importTemplates, true)
			if err != nil {
				return err
			}
			res, err := migrate.Convert(ps, ts, migrate.Options{Clusters: names, Adopt: adopt})
			if err != nil {
				return err
			}
			for _, s := range res.Skipped {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: left out", s+": no policy selects it")
			}
			policies := fmt.Sprintf("%d policies", res.Policies)
			if res.Policies == 1 {
				policies = "1 policy"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "import: %s and %s (%s of the API server's own left out)\n",
				policies, plural(res.Templates, "template"), plural(res.System, "object"))
			doc := bytes.Join(res.Docs, []byte("---\n"))
			if out != "" {
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				path := filepath.Join(out, "import.yaml")
				if err := os.WriteFile(path, doc, 0o600); err != nil { // it may hold Secrets
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", path)
				return nil
			}
			objs, err := policy.Load([]string{"-"}, bytes.NewReader(doc))
			if err != nil {
				return err
			}
			return applyObjects(cmd, objs, dryRun, w)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "kubeconfig of the Karmada API server")
	cmd.Flags().StringVar(&kctx, "from-context", "", "the context of --from to use (default: its current context)")
	cmd.Flags().StringArrayVar(&clusters, "cluster", nil, "NAME=SITE/CLUSTER: Atoll's cluster for a cluster the policies name; repeatable")
	cmd.Flags().BoolVar(&adopt, "adopt", true, "set conflictResolution: Overwrite on every propagation policy, to take over the member clusters' objects in place")
	cmd.Flags().StringVar(&out, "out", "", "write the manifests to DIR/import.yaml instead of storing them")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check what would be stored without writing")
	_ = cmd.MarkFlagRequired("from")
	addTargetFlags(cmd.Flags(), true)
	w.bind(cmd, "ready")
	return cmd
}
