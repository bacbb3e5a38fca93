package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"atoll/apply"
	"atoll/crdt"
	"atoll/policy"
	"atoll/site"
)

func newDeleteCmd() *cobra.Command {
	var files []string
	var dryRun bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "delete workload NAMESPACE/NAME ... | delete -f FILE|DIR|-",
		Short: "Remove workloads from the federation; every site prunes what it created for them",
		Long: `Delete removes workloads, named or read from the manifests that applied them (-f, as
for apply: the workload of each manifest, policies resolved the same way). The removal
is one change signed here with the operator's key; each site then deletes the objects it
created in its clusters and drops its status. A workload that does not exist is an
error naming it, and nothing is sent.

With --wait, delete shows the removal until no site reports the workload any more, and
exits 1 naming what remains if --timeout passes first.`,
		Example: `  atoll delete workload shop/web
  atoll delete workload shop/web shop/configmap.settings --site eu-west.yaml --key operator.pem
  atoll delete -f deploy/ --wait
  atoll delete -f app.yaml --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(cmd); err != nil {
				return err
			}
			keys, pols, err := deleteKeys(cmd, files, args)
			if err != nil {
				return err
			}
			c, t, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.State(cmd.Context())
			if err != nil {
				return err
			}
			var missing []string
			for _, o := range slices.Concat(refs(crdt.KindWorkload, keys), refs(crdt.KindPolicy, pols)) {
				obj, err := c.Object(cmd.Context(), o.kind.String(), o.key)
				if err != nil {
					return err
				}
				if obj == nil {
					missing = append(missing, o.kind.String()+" "+o.key)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("%s not found at site %s; nothing was sent", strings.Join(missing, ", "), st.Name)
			}
			if dryRun {
				for _, k := range pols {
					fmt.Fprintf(cmd.OutOrStdout(), "policy %s would be deleted (dry run)\n", k)
				}
				for _, k := range keys {
					fmt.Fprintf(cmd.OutOrStdout(), "workload %s would be deleted (dry run)\n", k)
				}
				return nil
			}
			// One change, unbounded even for bounded workloads: a removal carries no body,
			// and a change with a bound must seal one (crdt checkBound).
			ch := apply.Change{Keys: slices.Concat(pols, keys)}
			for _, o := range slices.Concat(refs(crdt.KindPolicy, pols), refs(crdt.KindWorkload, keys)) {
				ch.Ops = append(ch.Ops, crdt.Op{Type: crdt.OpRemove, Kind: o.kind, Key: o.key})
			}
			if err := apply.Check([]apply.Change{ch}); err != nil {
				return err
			}
			spec := waitSpec{Keys: keys, Removed: true, StatusAt: map[string][]string{}, Timeout: w.timeout}
			if w.wait {
				v, err := c.View(cmd.Context())
				if err != nil {
					return err
				}
				for _, k := range keys {
					if wv, ok := findWorkload(v, k); ok {
						spec.StatusAt[k] = statusAt(wv)
					}
				}
			}
			signer, err := site.LoadKeyFile(t.Key)
			if err != nil {
				return fmt.Errorf("operator key: %w", err)
			}
			ids, err := submitChanges(cmd.Context(), cmd.OutOrStdout(), c, signer, []apply.Change{ch}, "deleted")
			if err != nil || !w.wait {
				return err
			}
			spec.Changes = ids
			if err := waitDone(cmd.Context(), c, spec, newProgressPrinter(cmd.OutOrStdout())); err != nil {
				return err
			}
			if len(keys) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s gone from every site\n", plural(len(keys), "workload"))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "delete the workloads of these manifests: file, directory or - for stdin; repeatable")
	addTargetFlags(cmd.Flags(), true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check that the workloads exist and print them without deleting")
	w.bind(cmd, "gone")
	return cmd
}

// ref names one object of the replicated state.
type ref struct {
	kind crdt.Kind
	key  string
}

func refs(kind crdt.Kind, keys []string) []ref {
	out := make([]ref, len(keys))
	for i, k := range keys {
		out[i] = ref{kind, k}
	}
	return out
}

// deleteKeys returns the workload and policy keys a delete names: from its arguments
// (workload NAMESPACE/NAME ...) or from the manifests and policies of -f, as kubectl
// delete -f removes everything its files hold, without duplicates.
func deleteKeys(cmd *cobra.Command, files, args []string) (workloads, policies []string, _ error) {
	var keys []string
	switch {
	case len(files) > 0 && len(args) > 0:
		return nil, nil, fmt.Errorf("delete: give -f or workload NAMESPACE/NAME, not both")
	case len(files) > 0:
		objs, err := policy.Load(files, cmd.InOrStdin())
		if err != nil {
			return nil, nil, err
		}
		ws, ps, notes, err := policy.Split(objs)
		for _, n := range notes {
			fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
		}
		if err != nil {
			return nil, nil, err
		}
		for _, w := range ws {
			keys = append(keys, w.Key)
		}
		for _, p := range ps {
			policies = append(policies, crdt.PolicyKey(p.Kind(), p.Namespace(), p.Name()))
		}
	case len(args) == 0:
		return nil, nil, fmt.Errorf("delete: give workload NAMESPACE/NAME or -f FILE")
	default:
		if getKinds[strings.ToLower(args[0])] != "workloads" {
			return nil, nil, fmt.Errorf("delete: unknown kind %q (want workload)", args[0])
		}
		if len(args) == 1 {
			return nil, nil, fmt.Errorf("delete workload: give NAMESPACE/NAME")
		}
		for _, a := range args[1:] {
			k, err := workloadArg(a)
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !slices.Contains(workloads, k) {
			workloads = append(workloads, k)
		}
	}
	if len(workloads) == 0 && len(policies) == 0 {
		return nil, nil, fmt.Errorf("delete: the files hold no workload or policy")
	}
	return workloads, slices.Compact(slices.Sorted(slices.Values(policies))), nil
}

// workloadArg reads NAMESPACE/NAME, or NAME in the default namespace.
func workloadArg(a string) (string, error) {
	ns, name, ok := strings.Cut(a, "/")
	if !ok {
		ns, name = "default", a
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("workload %q: want NAMESPACE/NAME", a)
	}
	return crdt.WorkloadKey(ns, name), nil
}
