package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atoll/apply"
	"atoll/crdt"
	"atoll/site"
)

// submitChanges signs each change on top of the site's tip with the operator's key and
// submits it, printing each workload with verb and each change's id. A change bounded
// outside the site's jurisdiction is an error before anything is sent.
func submitChanges(ctx context.Context, out io.Writer, c *site.Client, signer *crdt.Signer, changes []apply.Change, verb string) ([]string, error) {
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		if len(ch.Bound) > 0 && !slices.Contains(ch.Bound, st.Jurisdiction) {
			return nil, fmt.Errorf("workloads %s are bounded to %s, and site %s (%s) is outside: use a site inside the bound; nothing was sent",
				strings.Join(ch.Keys, ", "), strings.Join(ch.Bound, ","), st.Name, dash(st.Jurisdiction))
		}
	}
	var ids []string
	for _, ch := range changes {
		prep, err := c.Prepare(ctx, ch.Ops, ch.Bound)
		if err != nil {
			return ids, err
		}
		env, err := crdt.Sign(prep, ch.Bodies, signer)
		if err != nil {
			return ids, err
		}
		res, err := c.Submit(ctx, env.Encode())
		if err != nil {
			return ids, fmt.Errorf("workloads %s: %w", strings.Join(ch.Keys, ", "), err)
		}
		for _, k := range ch.Keys {
			what := "workload"
			if _, _, ok := crdt.PolicyScope(k); ok {
				what = "policy"
			}
			fmt.Fprintf(out, "%s %s %s\n", what, k, verb)
		}
		fmt.Fprintf(out, "change %s accepted by %s\n", res.ID, st.Name)
		ids = append(ids, res.ID)
	}
	return ids, nil
}

// waitFlags are --wait and --timeout of a write.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) bind(cmd *cobra.Command, until string) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "then show progress per site and cluster until every workload is "+until)
	cmd.Flags().DurationVar(&w.timeout, "timeout", 2*time.Minute, "with --wait, give up after this long (exit status 1)")
}

func (w *waitFlags) check(cmd *cobra.Command) error {
	if cmd.Flags().Changed("timeout") && !w.wait {
		return errors.New("--timeout applies with --wait")
	}
	if w.timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", w.timeout)
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
