package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"atoll/site"
	"atoll/site/kube"
)

// retaint applies kubectl-taint-style changes to a cluster's taints: "key=value:Effect"
// or "key:Effect" adds one (replaces one of the same key only with overwrite), "key-"
// and "key:Effect-" remove it.
func retaint(cur, changes []string, overwrite bool) ([]string, error) {
	out := slices.Clone(cur)
	keyOf := func(t string) string { k, _, _, _ := kube.ParseTaint(t); return k }
	for _, ch := range changes {
		if del, ok := strings.CutSuffix(ch, "-"); ok {
			key, effect, _ := strings.Cut(del, ":")
			n := len(out)
			out = slices.DeleteFunc(out, func(t string) bool {
				_, _, e, _ := kube.ParseTaint(t)
				return keyOf(t) == key && (effect == "" || effect == e)
			})
			if len(out) == n {
				return nil, fmt.Errorf("taint %q: the cluster has no taint %s", ch, del)
			}
			continue
		}
		key, _, _, err := kube.ParseTaint(ch)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(t string) bool { return keyOf(t) == key }); i >= 0 {
			if !overwrite {
				return nil, fmt.Errorf("taint %q: the cluster already has %s (--overwrite replaces it)", ch, out[i])
			}
			out[i] = ch
			continue
		}
		out = append(out, ch)
	}
	return out, nil
}

// siteClient returns a client for the site whose site.yaml is at path.
func siteClient(path string) (*site.Client, error) {
	cfg, err := site.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return site.NewClient(cfg.SocketPath()), nil
}

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Join, unjoin and list the member clusters of a site",
	}
	addTargetFlags(cmd.PersistentFlags(), false)
	// localClient connects to the site's local API, which join and unjoin need.
	localClient := func(cmd *cobra.Command) (*site.Client, error) {
		t, err := resolve(cmd)
		if err == nil {
			err = t.local("cluster " + cmd.Name())
		}
		if err != nil {
			return nil, err
		}
		return t.client()
	}
	var kubeconfig, labels string
	var taints []string
	join := &cobra.Command{
		Use:   "join NAME --kubeconfig FILE [--labels k=v,...] [--taint key=value:NoSchedule ...]",
		Short: "Register a member cluster with the local site; its credentials stay in the site's data dir",
		Example: `  atoll cluster join prod-1 --kubeconfig prod-1.kubeconfig --labels tier=prod --site us-east.yaml
  atoll cluster join gpu-1 --kubeconfig gpu-1.kubeconfig --taint gpu=true:NoSchedule`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kc, err := os.ReadFile(kubeconfig)
			if err != nil {
				return err
			}
			lbl, err := parseLabels(labels)
			if err != nil {
				return err
			}
			c, err := localClient(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.JoinCluster(cmd.Context(), site.JoinRequest{Name: args[0], Kubeconfig: string(kc), Labels: lbl, Taints: taints}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %s joined\n", args[0])
			return nil
		},
	}
	join.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the member cluster")
	join.Flags().StringVar(&labels, "labels", "", "labels of the cluster, k=v,k2=v2")
	join.Flags().StringArrayVar(&taints, "taint", nil, "a taint, key=value:NoSchedule or key:NoExecute; only tolerating workloads are placed there (repeatable)")
	_ = join.MarkFlagRequired("kubeconfig")
	var overwrite bool
	taint := &cobra.Command{
		Use:   "taint NAME key=value:Effect... | key- | key:Effect-",
		Short: "Change a member cluster's taints, as kubectl taint changes a node's",
		Long: `Add, replace or remove taints of a member cluster of the local site. Effect is
NoSchedule (a cordon: the cluster keeps the replicas it runs and gets no new ones) or
NoExecute (the replicas move elsewhere, make-before-break, unless the workload's policy
tolerates the taint; a toleration with tolerationSeconds keeps them that long after the
taint began). "key-" removes the taint of that key. A cluster holds one taint per key;
--overwrite replaces one.`,
		Example: `  atoll cluster taint prod-1 maintenance=true:NoSchedule --site us-east.yaml
  atoll cluster taint prod-1 maintenance=true:NoExecute --overwrite
  atoll cluster taint prod-1 maintenance-`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := localClient(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			entries, err := c.Clusters(cmd.Context())
			if err != nil {
				return err
			}
			var cur []string
			found := false
			for _, e := range entries {
				if e.Name == args[0] {
					cur, found = e.Taints, true
				}
			}
			if !found {
				return fmt.Errorf("cluster %s: not joined to this site", args[0])
			}
			next, err := retaint(cur, args[1:], overwrite)
			if err != nil {
				return err
			}
			if err := c.TaintCluster(cmd.Context(), args[0], next); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %s tainted: %s\n", args[0], cmp.Or(strings.Join(next, ", "), "no taints"))
			return nil
		},
	}
	taint.Flags().BoolVar(&overwrite, "overwrite", false, "replace a taint of the same key")
	unjoin := &cobra.Command{
		Use:     "unjoin NAME",
		Short:   "Forget a member cluster and delete its credentials from the site",
		Example: `  atoll cluster unjoin prod-1 --site us-east.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := localClient(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			warning, err := c.UnjoinCluster(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if warning != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", warning)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %s unjoined\n", args[0])
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the site's member clusters with what it last published about them",
		Example: `  atoll cluster list --site us-east.yaml
  atoll cluster list --server http://127.0.0.1:8080
  atoll get clusters            # every site's clusters, from the federation's state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.State(cmd.Context())
			if err != nil {
				return err
			}
			list, err := c.Clusters(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tHEALTH\tVERSION\tNODES\tAVAILABLE CPU\tAVAILABLE MEMORY")
			for _, e := range list {
				obj, err := c.Object(cmd.Context(), "cluster", st.Name+"/"+e.Name)
				if err != nil {
					return err
				}
				v := func(f string) string {
					if x, ok := obj[f]; ok {
						return x.Value
					}
					return "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s/%s\t%s\t%s\n", e.Name, v("health"), v("k8sVersion"), v("readyNodes"), v("nodes"), v("available/cpu"), v("available/memory"))
			}
			return w.Flush()
		},
	}
	rbac := &cobra.Command{
		Use:   "rbac",
		Short: "Print the RBAC a site needs in a member cluster (a ClusterRole bound to atoll-system/atoll), to apply there before joining",
		Long: `Print the least-privilege RBAC of a member cluster: a ClusterRole that reads nodes and
pods, creates namespaces, and manages the kinds a site's default admission policy allows,
bound to the ServiceAccount atoll-system/atoll (and the user atoll). A site never needs
system:masters; a site whose admission.kinds allows more needs those kinds added.`,
		Example: `  atoll cluster rbac | kubectl --context prod-1 apply -f -
  kubectl --context prod-1 -n atoll-system create token atoll --duration 8760h   # the join kubeconfig's token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(kube.RBAC)
			return err
		},
	}
	cmd.AddCommand(join, taint, unjoin, list, rbac)
	return cmd
}

// parseLabels reads "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
