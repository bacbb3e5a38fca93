package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

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
			keys, err := deleteKeys(cmd, files, args)
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
			for _, k := range keys {
				obj, err := c.Object(cmd.Context(), "workload", k)
				if err != nil {
					return err
				}
				if obj == nil {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("%s not found at site %s; nothing was sent", plural(len(missing), "workload")+" "+strings.Join(missing, ", "), st.Name)
			}
			if dryRun {
				for _, k := range keys {
					fmt.Fprintf(cmd.OutOrStdout(), "workload %s would be deleted (dry run)\n", k)
				}
				return nil
			}
			// One change, unbounded even for bounded workloads: a removal carries no body,
			// and a change with a bound must seal one (crdt checkBound).
			ch := change{keys: keys}
			for _, k := range keys {
				ch.ops = append(ch.ops, crdt.Op{Type: crdt.OpRemove, Kind: crdt.KindWorkload, Key: k})
			}
			if err := check([]change{ch}); err != nil {
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
			ids, err := submitChanges(cmd.Context(), cmd.OutOrStdout(), c, signer, []change{ch}, "deleted")
			if err != nil || !w.wait {
				return err
			}
			spec.Changes = ids
			if err := waitDone(cmd.Context(), c, spec, newProgressPrinter(cmd.OutOrStdout())); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s gone from every site\n", plural(len(keys), "workload"))
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "delete the workloads of these manifests: file, directory or - for stdin; repeatable")
	addTargetFlags(cmd.Flags(), true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check that the workloads exist and print them without deleting")
	w.bind(cmd, "gone")
	return cmd
}

// deleteKeys returns the workload keys a delete names: from its arguments
// (workload NAMESPACE/NAME ...) or from the manifests of -f, without duplicates.
func deleteKeys(cmd *cobra.Command, files, args []string) ([]string, error) {
	var keys []string
	switch {
	case len(files) > 0 && len(args) > 0:
		return nil, fmt.Errorf("delete: give -f or workload NAMESPACE/NAME, not both")
	case len(files) > 0:
		objs, err := policy.Load(files, cmd.InOrStdin())
		if err != nil {
			return nil, err
		}
		ws, notes, err := policy.Resolve(objs)
		for _, n := range notes {
			fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
		}
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			keys = append(keys, w.Key)
		}
	case len(args) == 0:
		return nil, fmt.Errorf("delete: give workload NAMESPACE/NAME or -f FILE")
	default:
		if getKinds[strings.ToLower(args[0])] != "workloads" {
			return nil, fmt.Errorf("delete: unknown kind %q (want workload)", args[0])
		}
		if len(args) == 1 {
			return nil, fmt.Errorf("delete workload: give NAMESPACE/NAME")
		}
		for _, a := range args[1:] {
			k, err := workloadArg(a)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("delete: the files hold no workload")
	}
	return out, nil
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
