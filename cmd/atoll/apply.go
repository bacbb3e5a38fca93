package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"atoll/apply"
	"atoll/crdt"
	"atoll/policy"
	"atoll/site"
)

func newApplyCmd() *cobra.Command {
	var files []string
	var dryRun bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- ... [--wait [--timeout 2m]]",
		Short: "Apply Kubernetes manifests with Karmada PropagationPolicy and OverridePolicy YAML",
		Long: `Apply reads Kubernetes manifests together with Karmada policy.karmada.io/v1alpha1
PropagationPolicy, ClusterPropagationPolicy, OverridePolicy and ClusterOverridePolicy
YAML, unchanged. Policies are stored, as in Karmada: every site places each template by
the stored policies that select it, including templates written later, and editing a
policy re-places what it selects. A manifest that no stored policy selects is kept but
not placed. Any field Atoll does not support is an error naming its file and line;
nothing is written unless everything is valid.

Atoll's own settings ride on annotations of the policy (or, for the bound, of the
manifest): atoll.io/bound: "EU,CH" keeps a workload, and its body, inside those
jurisdictions; atoll.io/takeover: "false" and atoll.io/max-surge: "2" or "50%" tune
failover.

The change is signed here with the operator's key and submitted to the site (its local
API, or its HTTP server); workloads with a bound must be applied through a site inside
it. Each accepted change is printed with its id. With --wait, apply then shows the
rollout per site and cluster until every workload is ready, and exits 1 naming what is
not ready if --timeout passes first.`,
		Example: `  atoll apply -f deploy/ --key operator.pem --site eu-west.yaml
  atoll apply -f app.yaml --wait --timeout 5m             # the context file's site and key
  atoll apply -f app.yaml --server https://eu-west.example:8443 --key operator.pem
  kubectl kustomize overlays/prod | atoll apply -f - --context prod
  atoll apply -f deploy/ --dry-run`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("apply: give at least one -f")
			}
			if err := w.check(cmd); err != nil {
				return err
			}
			objs, err := policy.Load(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			return applyObjects(cmd, objs, dryRun, w)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory (read recursively) or - for stdin; repeatable")
	addTargetFlags(cmd.Flags(), true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the files and print the workloads without writing")
	w.bind(cmd, "ready")
	return cmd
}

// applyObjects stores templates and policies: checked, signed with the operator's key,
// submitted to the site, and with w, waited for.
func applyObjects(cmd *cobra.Command, objs []policy.Object, dryRun bool, w waitFlags) error {
	ws, ps, notes, err := policy.Split(objs)
	for _, n := range notes {
		fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
	}
	if err != nil {
		return err
	}
	for _, wl := range ws {
		if len(wl.Bound) > 0 && len(wl.Overrides) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %s: %s %s/%s is bounded to %s, but policies are stored unbounded: every site can read its overrides' values (keep what must stay inside the bound in the template)\n",
				wl.Source, wl.Kind, wl.Namespace, wl.Name, strings.Join(wl.Bound, ","))
		}
		if wl.PlacedBy == "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %s: %s %s/%s: no policy of this apply places it; it runs only where a stored PropagationPolicy or ClusterPropagationPolicy selects it\n",
				wl.Source, wl.Kind, wl.Namespace, wl.Name)
		}
	}
	changes, err := apply.Changes(ws, ps)
	if err == nil {
		err = apply.Check(changes)
	}
	if err != nil {
		return err
	}
	if dryRun {
		if err := policy.CheckReplicas(ws, policy.DefaultMaxReplicas); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %v\nnote: a site refuses these unless the charter grants more\n", err)
		}
		if err := policy.CheckDivide(ws, 1); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %v\nnote: a site refuses these unless the charter's format level is %d\n", err, policy.JobsLevel)
		}
		for _, p := range ps {
			fmt.Fprintf(cmd.OutOrStdout(), "policy %s valid\n", p)
		}
		for _, wl := range ws {
			fmt.Fprintf(cmd.OutOrStdout(), "workload %s valid (%s, from %s)\n", wl.Key, wl.Kind, wl.Source)
		}
		return nil
	}
	c, t, err := connect(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	signer, err := site.LoadKeyFile(t.Key)
	if err != nil {
		return fmt.Errorf("operator key: %w", err)
	}
	limit, format, err := charterLimits(cmd.Context(), c)
	if err != nil {
		return err
	}
	if err := policy.CheckReplicas(ws, limit); err != nil {
		return fmt.Errorf("%w\nnothing was sent", err)
	}
	if err := policy.CheckDivide(ws, format); err != nil {
		return fmt.Errorf("%w\nnothing was sent", err)
	}
	if err := policy.CheckClusterScope(ws, ps, format); err != nil {
		return fmt.Errorf("%w\nnothing was sent", err)
	}
	if stored, err := storedInterpreters(cmd.Context(), c); err != nil {
		return err
	} else if len(stored) > 0 {
		// Custom resources whose replicas a stored customization reads: resolve again.
		if ws, ps, _, err = policy.SplitWith(objs, stored); err != nil {
			return err
		}
		if changes, err = apply.Changes(ws, ps); err == nil {
			err = apply.Check(changes)
		}
		if err != nil {
			return err
		}
	}
	ids, err := submitChanges(cmd.Context(), cmd.OutOrStdout(), c, signer, changes, "configured")
	if err != nil || !w.wait {
		return err
	}
	var keys []string
	for _, wl := range ws {
		keys = append(keys, wl.Key)
	}
	if err := waitDone(cmd.Context(), c, waitSpec{Changes: ids, Keys: keys, Timeout: w.timeout}, newProgressPrinter(cmd.OutOrStdout())); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s ready\n", plural(len(keys), "workload"))
	return nil
}

// charterLimits reads the site's charter: the most replicas a workload may have, and
// the format level (what it divides).
func charterLimits(ctx context.Context, c *site.Client) (limit, format int, err error) {
	ch, err := c.Object(ctx, crdt.KindCharter.String(), "")
	if err != nil {
		return 0, 0, fmt.Errorf("charter: %w", err)
	}
	limit, format = crdt.DefaultMaxReplicas, 1
	if f, ok := ch[crdt.MaxReplicasField]; ok {
		if n, err := crdt.ParseReplicas(f.Value, crdt.MaxMaxReplicas); err == nil && n > 0 {
			limit = n
		}
	}
	if f, ok := ch[crdt.FormatField]; ok {
		if n, err := crdt.ParseReplicas(f.Value, crdt.MaxFormatValue); err == nil && n > 0 {
			format = n
		}
	}
	return limit, format, nil
}

// storedInterpreters returns the resource-interpreter customizations the site holds
// and takes part with (GET /v1/policies), decoded as the site decodes them.
func storedInterpreters(ctx context.Context, c *site.Client) ([]*policy.Policy, error) {
	reps, err := c.Policies(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored policies: %w", err)
	}
	var out []*policy.Policy
	for _, r := range reps {
		if !strings.HasPrefix(r.Key, crdt.InterpreterPolicy+"/") || r.Error != "" || len(r.Object) == 0 {
			continue
		}
		p, err := policy.Decode("policy "+r.Key, r.Object)
		if err != nil {
			continue // the site does not use it either
		}
		out = append(out, p)
	}
	return out, nil
}
