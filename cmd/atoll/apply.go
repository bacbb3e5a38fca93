package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

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
			ws, ps, notes, err := policy.Split(objs)
			for _, n := range notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
			if err != nil {
				return err
			}
			for _, w := range ws {
				if len(w.Bound) > 0 && len(w.Overrides) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s: %s %s/%s is bounded to %s, but policies are stored unbounded: every site can read its overrides' values (keep what must stay inside the bound in the template)\n",
						w.Source, w.Kind, w.Namespace, w.Name, strings.Join(w.Bound, ","))
				}
				if w.PlacedBy == "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s: %s %s/%s: no policy of this apply places it; it runs only where a stored PropagationPolicy or ClusterPropagationPolicy selects it\n",
						w.Source, w.Kind, w.Namespace, w.Name)
				}
			}
			changes, err := applyChanges(ws, ps)
			if err == nil {
				err = check(changes)
			}
			if err != nil {
				return err
			}
			if dryRun {
				if err := policy.CheckReplicas(ws, policy.DefaultMaxReplicas); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %v\nnote: a site refuses these unless the charter grants more\n", err)
				}
				for _, p := range ps {
					fmt.Fprintf(cmd.OutOrStdout(), "policy %s valid\n", p)
				}
				for _, w := range ws {
					fmt.Fprintf(cmd.OutOrStdout(), "workload %s valid (%s, from %s)\n", w.Key, w.Kind, w.Source)
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
			limit, err := maxReplicas(cmd.Context(), c)
			if err != nil {
				return err
			}
			if err := policy.CheckReplicas(ws, limit); err != nil {
				return fmt.Errorf("%w\nnothing was sent", err)
			}
			ids, err := submitChanges(cmd.Context(), cmd.OutOrStdout(), c, signer, changes, "configured")
			if err != nil || !w.wait {
				return err
			}
			var keys []string
			for _, w := range ws {
				keys = append(keys, w.Key)
			}
			if err := waitDone(cmd.Context(), c, waitSpec{Changes: ids, Keys: keys, Timeout: w.timeout}, newProgressPrinter(cmd.OutOrStdout())); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s ready\n", plural(len(keys), "workload"))
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory (read recursively) or - for stdin; repeatable")
	addTargetFlags(cmd.Flags(), true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the files and print the workloads without writing")
	w.bind(cmd, "ready")
	return cmd
}

// change is one signed write of an apply: the workloads that share a bound, and with
// the unbounded ones the policies.
type change struct {
	keys   []string
	bound  []string
	ops    []crdt.Op
	bodies [][]byte
}

// applyChanges turns workloads and policies into one change per distinct bound (a
// change has one bound for its sealed bodies), checking sizes before anything is sent.
// The policies go in the unbounded change, which is submitted first.
func applyChanges(ws []policy.Workload, ps []*policy.Policy) ([]change, error) {
	byBound := map[string]*change{}
	var order []string
	changeFor := func(bound []string) *change {
		b := strings.Join(bound, ",")
		ch := byBound[b]
		if ch == nil {
			ch = &change{bound: bound}
			byBound[b] = ch
			order = append(order, b)
		}
		return ch
	}
	for _, p := range ps {
		ch := changeFor(nil)
		obj, err := p.Object()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		key := crdt.PolicyKey(p.Kind(), p.Namespace(), p.Name())
		ch.keys = append(ch.keys, key)
		ch.ops = append(ch.ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindPolicy, Key: key, Field: "object", Value: obj})
	}
	for _, w := range ws {
		ch := changeFor(w.Bound)
		ch.keys = append(ch.keys, w.Key)
		set := func(f, v string) {
			ch.ops = append(ch.ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: w.Key, Field: f, Value: []byte(v)})
		}
		del := func(f string) {
			ch.ops = append(ch.ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindWorkload, Key: w.Key, Field: f})
		}
		set("apiVersion", w.APIVersion)
		set("kind", w.Kind)
		if w.Replicas >= 0 {
			set("replicas", strconv.Itoa(w.Replicas))
		} else {
			del("replicas")
		}
		if len(w.Labels) > 0 {
			labels, err := json.Marshal(w.Labels)
			if err != nil {
				return nil, err
			}
			set("labels", string(labels))
		} else {
			del("labels")
		}
		// The stored policies place and override it: what an earlier release stored with
		// the workload goes.
		del("placement")
		del("overrides")
		if len(w.Bound) > 0 {
			set("bound", strings.Join(w.Bound, ","))
			ch.ops = append(ch.ops, crdt.SealOp(crdt.KindWorkload, w.Key, "template", w.Template))
			ch.bodies = append(ch.bodies, w.Template)
		} else {
			del("bound")
			set("template", string(w.Template))
		}
	}
	out := make([]change, 0, len(order))
	for _, b := range slices.Sorted(slices.Values(order)) {
		out = append(out, *byBound[b])
	}
	return out, nil
}

// maxReplicas is the most replicas a workload may have under the site's charter.
func maxReplicas(ctx context.Context, c *site.Client) (int, error) {
	ch, err := c.Object(ctx, crdt.KindCharter.String(), "")
	if err != nil {
		return 0, fmt.Errorf("charter: %w", err)
	}
	if f, ok := ch[crdt.MaxReplicasField]; ok {
		if n, err := crdt.ParseReplicas(f.Value, crdt.MaxMaxReplicas); err == nil && n > 0 {
			return n, nil
		}
	}
	return crdt.DefaultMaxReplicas, nil
}

// check signs each change with a throwaway key and decodes it as a site would, so that a
// change over the format's limits fails before anything is sent.
func check(changes []change) error {
	probe := crdt.SignerFromSeed(make([]byte, 32))
	for _, ch := range changes {
		env, err := crdt.Sign(&crdt.Change{Lamport: 1, Ops: ch.ops, Bound: ch.bound}, ch.bodies, probe)
		if err == nil {
			_, err = crdt.DecodeEnvelope(env.Encode())
		}
		if err != nil {
			return fmt.Errorf("workloads %s: %w (apply fewer or smaller manifests at once)", strings.Join(ch.keys, ", "), err)
		}
	}
	return nil
}
