package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newDescribeCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe workload NAMESPACE/NAME",
		Short: "Explain where a workload runs: per site and cluster, the replicas, the reason and since when",
		Example: `  atoll describe workload shop/web --site eu-west.yaml
  atoll describe workload shop/web -o json --context eu-west
  atoll describe wl shop/web --server http://127.0.0.1:8080`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if getKinds[strings.ToLower(args[0])] != "workloads" {
				return fmt.Errorf("describe: unknown kind %q (want workload)", args[0])
			}
			ns, name, ok := strings.Cut(args[1], "/")
			if !ok {
				ns, name = "default", args[1]
			}
			c, _, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := c.Placement(cmd.Context(), ns, name)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			printPlacement(cmd.OutOrStdout(), p, time.Now())
			if obj, err := c.Object(cmd.Context(), "workload", ns+"/"+name); err == nil {
				if b := bodyLine(obj); b != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "Body:      %s\n", b)
				}
			}
			return nil
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for the full explanation")
	return cmd
}

func printPlacement(w io.Writer, p site.Placement, now time.Time) {
	mode := "Divided"
	if p.Duplicated {
		mode = "Duplicated"
	}
	replicas := fmt.Sprint(p.Replicas)
	if p.Replicas < 0 {
		replicas = "-"
	}
	fmt.Fprintf(w, "Workload:  %s\nReplicas:  %s (%s)\n", p.Workload, replicas, mode)
	if p.Policy != "" {
		fmt.Fprintf(w, "Policy:    %s\n", p.Policy)
	}
	if len(p.Bound) > 0 {
		fmt.Fprintf(w, "Bound:     %s\n", strings.Join(p.Bound, ","))
	}
	if p.Error != "" {
		fmt.Fprintf(w, "Error:     %s\n", p.Error)
	}
	if p.Missing > 0 {
		fmt.Fprintf(w, "Missing:   %d (under-replicated)\n", p.Missing)
	}
	for _, c := range p.Conditions {
		fmt.Fprintf(w, "Condition: %s\n", c)
	}
	if p.Job != nil {
		fmt.Fprintf(w, "Job:       %s\n", jobText(p.Job))
	}
	if len(p.Status) > 0 {
		fmt.Fprintf(w, "Status:    %s\n", p.Status)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSITE\tCLUSTER\tREPLICAS\tREADY\tREASON\tSINCE")
	for _, s := range p.Sites {
		state := ""
		if !s.Alive {
			state = " (dead)"
		}
		fmt.Fprintf(tw, "%s%s\t\t%d\t\t%s\t%s\n", s.Name, state, s.Replicas, s.Reason, ago(s.Since, now))
		for _, c := range s.Clusters {
			reason := c.Reason
			if !c.UnhealthySince.IsZero() {
				reason += "; unhealthy since " + ago(c.UnhealthySince, now)
			}
			fmt.Fprintf(tw, "\t%s\t%d\t%d/%d\t%s\t%s\n", c.Name, c.Replicas, c.Ready, c.Desired, reason, ago(c.Since, now))
			if c.Job != nil {
				fmt.Fprintf(tw, "\t\t\t\tjob: %s\t\n", jobText(c.Job))
			}
		}
	}
	tw.Flush()
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Truncate(time.Second).String() + " ago"
}
