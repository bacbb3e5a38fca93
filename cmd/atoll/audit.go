package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the federation's records"}
	var configs []string
	var output string
	res := &cobra.Command{
		Use:   "residency --site a.yaml --site b.yaml ...",
		Short: "Prove where each bounded workload's body was sent and where it ran; a breach exits non-zero",
		Long: `Residency collects each site's own records: every sealed body it handed to a peer,
every workload it applied in one of its clusters, every workload it refused to actuate.
For each bounded workload it lists where its body went and where it ran. A body sent
to, or a workload run at, a site whose jurisdiction is outside the bound is a breach,
and the command exits with status 1. Sites that cannot be reached are an error (exit 2):
an audit must not pass on missing records.`,
		Example: `  atoll audit residency --site us-east.yaml --site eu-west.yaml --site ap-south.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var all []site.AuditRecord
			for _, path := range configs {
				c, err := siteClient(path)
				if err != nil {
					return err
				}
				recs, err := c.Audit(cmd.Context())
				c.Close()
				if err != nil {
					return &exitError{2, fmt.Errorf("site %s: %w", path, err)}
				}
				all = append(all, recs...)
			}
			breaches := 0
			for _, r := range all {
				if r.Breach() {
					breaches++
				}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"records": all, "breaches": breaches}); err != nil {
					return err
				}
			} else {
				printAudit(cmd.OutOrStdout(), all)
			}
			if breaches > 0 {
				return &exitError{1, fmt.Errorf("residency: %d breaches", breaches)}
			}
			return nil
		},
	}
	res.Flags().StringArrayVar(&configs, "site", nil, "configuration file of a site to collect records from; repeat for every site")
	res.Flags().StringVarP(&output, "output", "o", "", "json for every record")
	_ = res.MarkFlagRequired("site")
	cmd.AddCommand(res)
	return cmd
}

func printAudit(w io.Writer, recs []site.AuditRecord) {
	bodies := map[string][]string{} // change -> "peer (jurisdiction)"
	ran := map[string][]string{}    // workload -> "site/cluster (jurisdiction)"
	bounds := map[string][]string{}
	for _, r := range recs {
		mark := ""
		if r.Breach() {
			mark = " BREACH"
		}
		switch r.Type {
		case "sent":
			bodies[r.Change] = append(bodies[r.Change], fmt.Sprintf("%s→%s (%s)%s", r.Site, r.Peer, r.Jurisdiction, mark))
			bounds["change "+r.Change[:16]] = r.Bound
		case "ran":
			if len(r.Bound) > 0 {
				ran[r.Workload] = append(ran[r.Workload], fmt.Sprintf("%s/%s (%s)%s", r.Site, r.Cluster, r.Jurisdiction, mark))
				bounds[r.Workload] = r.Bound
			}
		case "refused":
			fmt.Fprintf(w, "refused: %s at %s (%s): %s\n", r.Workload, r.Site, r.Jurisdiction, r.Reason)
		}
	}
	for _, wl := range slices.Sorted(maps.Keys(ran)) {
		fmt.Fprintf(w, "workload %s bound to %s ran at: %s\n", wl, strings.Join(bounds[wl], ","), strings.Join(ran[wl], ", "))
	}
	for _, ch := range slices.Sorted(maps.Keys(bodies)) {
		fmt.Fprintf(w, "body of change %s bound to %s sent: %s\n", ch[:16], strings.Join(bounds["change "+ch[:16]], ","), strings.Join(bodies[ch], ", "))
	}
}
