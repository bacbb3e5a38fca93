package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/scheduler"
	"atoll/site"
)

// table is a kubectl-like table: upper-case headers, one row per object.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func ratio(a, b int) string { return strconv.Itoa(a) + "/" + strconv.Itoa(b) }

func sitesTable(ss []site.SiteView, wide bool, now time.Time) *table {
	t := newTable("NAME", "REGION", "JURISDICTION", "ALIVE", "SINCE", "IN-SYNC", "LAG", "CLUSTERS", "READY")
	if wide {
		t.header = append(t.header, "LIVE", "CHANGES", "SELF")
	}
	for _, s := range ss {
		lag := "-"
		if s.Lag > 0 {
			lag = time.Duration(s.Lag * float64(time.Second)).Round(100 * time.Millisecond).String()
		}
		name := s.Name
		if s.Draining {
			name += " (draining)" // leaving: its share moves to the others
		}
		row := []string{name, dash(s.Region), dash(s.Jurisdiction), strconv.FormatBool(s.Alive), age(s.Since, now),
			strconv.FormatBool(s.InSync), lag, strconv.Itoa(s.Clusters), ratio(s.Ready, s.Desired)}
		if wide {
			row = append(row, strconv.FormatBool(s.Live), strconv.Itoa(s.Changes), strconv.FormatBool(s.Self))
		}
		t.add(row...)
	}
	return t
}

func clustersTable(cs []site.ClusterView, wide bool) *table {
	t := newTable("SITE", "NAME", "HEALTH", "VERSION", "NODES", "CPU", "READY")
	if wide {
		t.header = append(t.header, "MEMORY", "EXTENDED", "LABELS", "TAINTS", "REASON")
	}
	for _, c := range cs {
		health := "Unhealthy"
		if c.Healthy {
			health = "Healthy"
		}
		row := []string{c.Site, c.Name, health, dash(c.Version), ratio(c.ReadyNodes, c.Nodes),
			resource(c, "cpu"), ratio(c.Ready, c.Desired)}
		if wide {
			var labels []string
			for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
				labels = append(labels, k+"="+c.Labels[k])
			}
			row = append(row, resource(c, "memory"), dash(extended(c)), dash(strings.Join(labels, ",")), dash(strings.Join(c.Taints, ",")), dash(c.Reason))
		}
		t.add(row...)
	}
	return t
}

// resource is "available/allocatable" of one resource of a cluster.
func resource(c site.ClusterView, name string) string {
	a, b := c.Available[name], c.Allocatable[name]
	if a == "" && b == "" {
		return "-"
	}
	return dash(a) + "/" + dash(b)
}

// extended is "nvidia.com/gpu=3/8,..." for a cluster's extended resources (names with a
// domain prefix), in name order: available/allocatable, as resource writes them.
func extended(c site.ClusterView) string {
	names := map[string]bool{}
	for _, m := range []map[string]string{c.Allocatable, c.Available} {
		for r := range m {
			if scheduler.Extended(r) {
				names[r] = true
			}
		}
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(names)) {
		parts = append(parts, r+"="+resource(c, r))
	}
	return strings.Join(parts, ",")
}

// placedClusters calls f for every cluster a placement gives replicas, site by site.
func placedClusters(p site.Placement, f func(s site.SitePlacement, c site.ClusterPlacement)) {
	for _, s := range p.Sites {
		for _, c := range s.Clusters {
			if c.Replicas > 0 {
				f(s, c)
			}
		}
	}
}

// clusterWant is what a cluster of a placement should run: the replicas the placement
// gives it, or, for a kind that runs whole in each cluster, what the cluster reports it
// means to run once it reports (a DaemonSet: a pod on each eligible node, maybe none).
func clusterWant(p site.Placement, c site.ClusterPlacement) int {
	if p.Replicas < 0 && c.Reported {
		return c.Desired
	}
	return c.Replicas
}

// counts sums a workload's ready and wanted replicas over the clusters of its placement,
// with what no site can run counted as wanted. placed is false when no cluster has a
// replica, and nothing is missing (a Duplicated workload with nowhere to go).
func counts(w site.WorkloadView) (ready, want int, placed bool) {
	placedClusters(w.Placement, func(_ site.SitePlacement, c site.ClusterPlacement) {
		n := clusterWant(w.Placement, c)
		ready += min(c.Ready, n)
		want += n
		placed = true
	})
	want += w.Missing
	return ready, want, placed || w.Missing > 0
}

func workloadsTable(ws []site.WorkloadView, wide bool) *table {
	t := newTable("NAMESPACE", "NAME", "KIND", "MODE", "READY", "SITES", "BOUND")
	if wide {
		t.header = append(t.header, "CLUSTERS", "POLICY", "MISSING")
	}
	for _, w := range ws {
		mode := "Divided"
		if w.Duplicated {
			mode = "Duplicated"
		}
		ready, want, placed := counts(w)
		readyCol := ratio(ready, want)
		if !placed {
			readyCol = "0/-"
		}
		if w.Error != "" {
			readyCol = "Error"
		}
		var sites, clusters []string
		for _, s := range w.Sites {
			n := 0
			for _, c := range s.Clusters {
				if c.Replicas > 0 {
					n += c.Replicas
					clusters = append(clusters, s.Name+"/"+c.Name+":"+strconv.Itoa(c.Replicas))
				}
			}
			if len(s.Clusters) == 0 {
				n = s.Replicas
			}
			if n > 0 {
				sites = append(sites, s.Name+":"+strconv.Itoa(n))
			}
		}
		row := []string{w.Namespace, w.Name, dash(w.Kind), mode, readyCol, dash(strings.Join(sites, ",")), dash(strings.Join(w.Bound, ","))}
		if wide {
			row = append(row, dash(strings.Join(clusters, ",")), dash(w.Policy), strconv.Itoa(w.Missing))
		}
		t.add(row...)
	}
	return t
}

// statusRow is one row of `atoll get status`: a workload in one cluster of one site.
type statusRow struct {
	Workload string    `json:"workload"`
	Site     string    `json:"site"`              // "-" for replicas no site runs
	Cluster  string    `json:"cluster"`           // "-" for a site's share with no cluster
	Desired  int       `json:"desired"`           // replicas the placement gives it
	Applied  int       `json:"applied"`           // replicas its site reports applied
	Ready    int       `json:"ready"`             // replicas its site reports ready
	Reason   string    `json:"reason,omitempty"`  // rule, takeover, failback, unavailable, missing
	Since    time.Time `json:"since,omitzero"`    // since when, as the answering site knows it
	Takeover int       `json:"takeover,omitzero"` // of Desired, taken over
	Hold     int       `json:"hold,omitzero"`     // of Desired, held for failback
	// Job is a Job's counts in the cluster, where its site reports them.
	Job *site.JobCounts `json:"job,omitempty"`
}

// statusRows lists every workload × site × cluster of the placements, with a row for the
// replicas no site runs and one for a workload that cannot be scheduled.
func statusRows(ws []site.WorkloadView) []statusRow {
	out := []statusRow{}
	for _, w := range ws {
		key := w.Namespace + "/" + w.Name
		if w.Error != "" {
			out = append(out, statusRow{Workload: key, Site: "-", Cluster: "-", Reason: "error: " + w.Error})
			continue
		}
		for _, s := range w.Sites {
			reason := s.Reason
			if !s.Alive {
				reason = strings.TrimSpace(reason + " (site not alive)")
			}
			if len(s.Clusters) == 0 {
				out = append(out, statusRow{Workload: key, Site: s.Name, Cluster: "-", Desired: s.Replicas, Reason: reason,
					Since: s.Since, Takeover: s.Takeover, Hold: s.Hold})
				continue
			}
			for _, c := range s.Clusters {
				out = append(out, statusRow{Workload: key, Site: s.Name, Cluster: c.Name, Desired: clusterWant(w.Placement, c), Applied: c.Desired,
					Ready: c.Ready, Reason: c.Reason, Since: c.Since, Takeover: c.Takeover, Hold: c.Hold, Job: c.Job})
			}
		}
		if w.Missing > 0 {
			reason := "missing"
			if len(w.Conditions) > 0 {
				reason += ": " + strings.Join(w.Conditions, "; ")
			}
			out = append(out, statusRow{Workload: key, Site: "-", Cluster: "-", Desired: w.Missing, Reason: reason})
		}
	}
	return out
}

func statusTable(rows []statusRow, wide bool, now time.Time) *table {
	t := newTable("WORKLOAD", "SITE", "CLUSTER", "DESIRED", "READY", "REASON")
	jobs := slices.ContainsFunc(rows, func(r statusRow) bool { return r.Job != nil })
	if jobs {
		t.header = append(t.header, "JOB")
	}
	if wide {
		t.header = append(t.header, "APPLIED", "TAKEOVER", "HOLD", "SINCE")
	}
	for _, r := range rows {
		row := []string{r.Workload, r.Site, r.Cluster, strconv.Itoa(r.Desired), strconv.Itoa(r.Ready), dash(r.Reason)}
		if jobs {
			row = append(row, jobText(r.Job))
		}
		if wide {
			row = append(row, strconv.Itoa(r.Applied), strconv.Itoa(r.Takeover), strconv.Itoa(r.Hold), age(r.Since, now))
		}
		t.add(row...)
	}
	return t
}

// jobText is a Job's counts: "1 active, 3 succeeded, 0 failed", then Complete or
// Failed once it finished; "-" without counts.
func jobText(j *site.JobCounts) string {
	if j == nil {
		return "-"
	}
	s := fmt.Sprintf("%d active, %d succeeded, %d failed", j.Active, j.Succeeded, j.Failed)
	if j.Finished != "" {
		s += ", " + j.Finished
	}
	return s
}

func eventsTable(es []site.Event, wide bool, now time.Time) *table {
	t := newTable("AGE", "KIND", "OBJECT", "MESSAGE")
	if wide {
		t.header = append([]string{"SEQ"}, t.header...)
	}
	for _, e := range es {
		row := []string{age(e.Time, now), e.Kind, dash(e.Object), e.Message}
		if wide {
			row = append([]string{strconv.FormatUint(e.Seq, 10)}, row...)
		}
		t.add(row...)
	}
	return t
}
