package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/site"
)

// getKinds maps every accepted spelling of a kind to its plural name.
var getKinds = map[string]string{
	"site": "sites", "sites": "sites",
	"cluster": "clusters", "clusters": "clusters", "cl": "clusters",
	"workload": "workloads", "workloads": "workloads", "wl": "workloads",
	"status": "status", "statuses": "status", "st": "status",
	"event": "events", "events": "events", "ev": "events",
	"policy": "policies", "policies": "policies", "pol": "policies",
}

// getOptions are what a get prints and which rows.
type getOptions struct {
	Kind      string // plural: sites, clusters, workloads, status, events
	Name      string // optional filter
	Namespace string // optional filter (workloads, status)
	Search    string // optional filter (workloads, status): namespace/name holds it
	Output    string // "", wide, json or yaml
}

// getPageLimit and getMaxPages bound what `get workloads` reads: pages of 1,000, at most
// a million workloads.
const getPageLimit, getMaxPages = 1000, 1000

// viewQuery is the paged GET /v1/view that reads the workloads o lists, filtered at the
// site; matches filters again, exactly.
func (o getOptions) viewQuery() site.ViewQuery {
	q := site.ViewQuery{Query: o.Search, Limit: getPageLimit, Fresh: true}
	if o.Namespace != "" {
		q.Namespaces = []string{o.Namespace}
	}
	if ns, _, ok := strings.Cut(o.Name, "/"); ok && o.Namespace == "" {
		q.Namespaces = []string{ns}
	}
	return q
}

func newGetCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get sites|clusters|workloads|status|events [NAME] [-o wide|json|yaml]",
		Short: "List the federation's sites, clusters, workloads, per-cluster status or recent events",
		Long: `Get prints what one site sees of the whole federation (GET /v1/view): any site
answers the same for the replicated state; liveness, sync and events are its own view.

Kinds: site (sites), cluster (clusters, cl), workload (workloads, wl), status (st: one
row per workload, site and cluster), event (events, ev). NAME filters: a site, a
cluster (NAME or SITE/NAME), a workload (NAMESPACE/NAME, or NAME in any namespace).`,
		Example: `  atoll get sites
  atoll get workloads -n shop -o wide
  atoll get workloads --search web
  atoll get workload shop/web -o yaml
  atoll get status shop/web
  atoll get clusters --context eu-west -o json
  atoll get events --server http://127.0.0.1:8080`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, ok := getKinds[strings.ToLower(args[0])]
			if !ok {
				return fmt.Errorf("get: unknown kind %q (want sites, clusters, workloads, status, events or policies)", args[0])
			}
			o.Kind = kind
			if len(args) == 2 {
				o.Name = args[1]
			}
			if err := o.validate(); err != nil {
				return err
			}
			c, _, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if o.Kind == "policies" {
				ps, err := c.Policies(cmd.Context())
				if err != nil {
					return err
				}
				return printPolicies(cmd.OutOrStdout(), cmd.ErrOrStderr(), ps, o)
			}
			var v site.View
			if o.Kind == "workloads" || o.Kind == "status" {
				v, err = c.ViewWorkloads(cmd.Context(), o.viewQuery(), getMaxPages)
			} else {
				v, err = c.View(cmd.Context())
			}
			if err != nil {
				return err
			}
			return printGet(cmd.OutOrStdout(), cmd.ErrOrStderr(), v, o, time.Now())
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "wide for more columns, json or yaml for the objects")
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "only workloads of this namespace (workloads, status)")
	cmd.Flags().StringVar(&o.Search, "search", "", "only workloads whose NAMESPACE/NAME holds this text, ignoring case (workloads, status)")
	return cmd
}

func (o getOptions) validate() error {
	switch o.Output {
	case "", "wide", "json", "yaml":
	default:
		return fmt.Errorf("get: -o %q: want wide, json or yaml", o.Output)
	}
	if o.Namespace != "" && o.Kind != "workloads" && o.Kind != "status" && o.Kind != "policies" {
		return fmt.Errorf("get: -n applies to workloads, status and policies, not %s", o.Kind)
	}
	if o.Search != "" && o.Kind != "workloads" && o.Kind != "status" {
		return fmt.Errorf("get: --search applies to workloads and status, not %s", o.Kind)
	}
	return nil
}

// printGet prints the rows of one kind of a view, as a table or as a list of objects.
func printGet(out, errOut io.Writer, v site.View, o getOptions, now time.Time) error {
	var items any
	var t *table
	var n int
	wide := o.Output == "wide"
	switch o.Kind {
	case "sites":
		rows := filter(v.Sites, func(s site.SiteView) bool { return o.Name == "" || s.Name == o.Name })
		items, t, n = rows, sitesTable(rows, wide, now), len(rows)
	case "clusters":
		rows := filter(v.Clusters, func(c site.ClusterView) bool {
			return o.Name == "" || c.Name == o.Name || c.Site+"/"+c.Name == o.Name
		})
		items, t, n = rows, clustersTable(rows, wide), len(rows)
	case "workloads":
		rows := filter(v.Workloads, func(w site.WorkloadView) bool { return o.matches(w) })
		items, t, n = rows, workloadsTable(rows, wide), len(rows)
	case "status":
		rows := statusRows(filter(v.Workloads, func(w site.WorkloadView) bool { return o.matches(w) }))
		items, t, n = rows, statusTable(rows, wide, now), len(rows)
	case "events":
		rows := filter(v.Events, func(e site.Event) bool { return o.Name == "" || e.Object == o.Name })
		items, t, n = rows, eventsTable(rows, wide, now), len(rows)
	default:
		return fmt.Errorf("get: unknown kind %q", o.Kind)
	}
	if n == 0 && o.Name != "" && o.Kind != "events" {
		return fmt.Errorf("%s %q not found at site %s", strings.TrimSuffix(o.Kind, "s"), o.Name, v.Site)
	}
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(items)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if n == 0 {
		fmt.Fprintf(errOut, "No %s found.\n", o.Kind)
		return nil
	}
	return t.write(out)
}

// printPolicies prints the stored policies: kind, namespace, name, and why one takes no
// part in placement.
func printPolicies(out, errOut io.Writer, ps []site.PolicyReport, o getOptions) error {
	name := func(p site.PolicyReport) string { return p.Key[strings.LastIndexByte(p.Key, '/')+1:] }
	rows := filter(ps, func(p site.PolicyReport) bool {
		_, ns, _ := crdt.PolicyScope(p.Key)
		return (o.Name == "" || name(p) == o.Name) && (o.Namespace == "" || ns == o.Namespace)
	})
	t := newTable("KIND", "NAMESPACE", "NAME", "ERROR")
	for _, p := range rows {
		kind, ns, _ := crdt.PolicyScope(p.Key)
		t.add(kind, cmp.Or(ns, "-"), name(p), cmp.Or(p.Error, "-"))
	}
	if len(rows) == 0 && o.Name != "" {
		return fmt.Errorf("policy %q not found", o.Name)
	}
	switch o.Output {
	case "json", "yaml":
		b, err := json.MarshalIndent(rows, "", "  ")
		if err == nil && o.Output == "yaml" {
			b, err = yaml.JSONToYAML(b)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", strings.TrimSuffix(string(b), "\n"))
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintln(errOut, "No policies found.")
		return nil
	}
	return t.write(out)
}

// matches applies the name and namespace filters to a workload.
func (o getOptions) matches(w site.WorkloadView) bool {
	if o.Namespace != "" && w.Namespace != o.Namespace {
		return false
	}
	if o.Search != "" && !strings.Contains(strings.ToLower(w.Namespace+"/"+w.Name), strings.ToLower(o.Search)) {
		return false
	}
	if o.Name == "" {
		return true
	}
	if strings.Contains(o.Name, "/") {
		return w.Namespace+"/"+w.Name == o.Name
	}
	return w.Name == o.Name
}

// filter returns the elements of s that keep accepts, never nil (a list prints as []).
func filter[T any](s []T, keep func(T) bool) []T {
	out := []T{}
	for _, x := range s {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// age formats how long ago t was, kubectl-style: 42s, 5m, 3h, 2d; "-" if unknown.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
