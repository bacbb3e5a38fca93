package chaos

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/scheduler"
)

// The failover simulation's federation: sites in four jurisdictions, two clusters each,
// and a fixed mix of placement policies.

var foJurisdictions = []string{"EU", "US", "APAC", "CH"}

// foClusterNames are every site's clusters: "a" on one provider, "b" on another.
var foClusterNames = []string{"a", "b"}

// foTopology returns the charter's sites and their clusters, sorted as scheduler.State
// wants them. Site i is in jurisdiction i mod 4 and region <jurisdiction>-1 or -2; its
// cluster "b" carries tier=gpu on sites 0-3, 8-11, 16-19 and so on. Available holds each
// cluster's capacity in pods (a: 60, b: 30); the world publishes capacity minus the pods
// running. Nothing stops a cluster from running more: only dynamic weights read it.
func foTopology(n int) ([]scheduler.Site, []scheduler.Cluster) {
	var sites []scheduler.Site
	var clusters []scheduler.Cluster
	for i := range n {
		jur := foJurisdictions[i%len(foJurisdictions)]
		s := scheduler.Site{Name: fmt.Sprintf("s%02d", i), Jurisdiction: jur,
			Region: fmt.Sprintf("%s-%d", strings.ToLower(jur), i/len(foJurisdictions)%2+1)}
		sites = append(sites, s)
		gpu := i/len(foJurisdictions)%2 == 0
		for j, name := range foClusterNames {
			c := scheduler.Cluster{Site: s.Name, Name: name, Jurisdiction: jur, Region: s.Region,
				Provider: "aws", Labels: map[string]string{"tier": "general"},
				Healthy: true, Available: scheduler.Resources{"pods": 60}}
			if j == 1 {
				c.Provider, c.Available = "gcp", scheduler.Resources{"pods": 30}
				if gpu {
					c.Labels = map[string]string{"tier": "gpu"}
				}
			}
			clusters = append(clusters, c)
		}
	}
	return sites, clusters
}

// foWorkload is one simulated workload and, for a Duplicated one, where the checker
// expects it once everything is healthy: a predicate written independently of the
// scheduler's matching.
type foWorkload struct {
	scheduler.Workload
	expect func(c *scheduler.Cluster) bool // Duplicated only
}

// dynamic reports whether the workload's weights read the clusters' free capacity.
func (w *foWorkload) dynamic() bool {
	rs := w.Policy.ReplicaScheduling
	return rs != nil && (rs.ReplicaDivisionPreference == scheduler.Aggregated ||
		rs.WeightPreference != nil && rs.WeightPreference.DynamicWeight == scheduler.AvailableReplicas)
}

func (w *foWorkload) duplicated() bool { return w.expect != nil }

// foWorkloads returns n workloads cycling through the policies (with dynamic, those
// whose weights read free capacity too); the k-th round adds k replicas to each.
func foWorkloads(n int, dynamic bool) []foWorkload {
	ts := foTemplates
	if dynamic {
		ts = append(slices.Clip(ts), foDynamicTemplates...)
	}
	var out []foWorkload
	for i := range n {
		w := ts[i%len(ts)](i / len(ts))
		w.Key = fmt.Sprintf("shop/%s-%d", w.Key, i/len(ts))
		out = append(out, w)
	}
	return out
}

func divided(pref string, wp *scheduler.WeightPreference) *scheduler.ReplicaScheduling {
	return &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: pref, WeightPreference: wp}
}

func field(key string, values ...string) *scheduler.FieldSelector {
	return &scheduler.FieldSelector{MatchExpressions: []scheduler.Requirement{{Key: key, Operator: "In", Values: values}}}
}

var (
	off  = false
	pods = scheduler.Resources{"pods": 1}
)

var foTemplates = []func(k int) foWorkload{
	// Divided, equal weights, anywhere, full takeover.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "web", Replicas: 12 + k,
			Policy: scheduler.Policy{Placement: scheduler.Placement{ReplicaScheduling: divided(scheduler.Weighted, nil)}}}}
	},
	// Divided inside the EU, takeover of at most half the replicas.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "api", Replicas: 10 + k, Bound: []string{"EU"},
			Policy: scheduler.Policy{MaxSurge: "50%"}}}
	},
	// Static weights: aws clusters twice gcp's; takeover of one replica at most.
	func(k int) foWorkload {
		wp := &scheduler.WeightPreference{StaticWeightList: []scheduler.StaticWeight{
			{TargetCluster: scheduler.ClusterAffinity{FieldSelector: field("provider", "aws")}, Weight: 2},
			{TargetCluster: scheduler.ClusterAffinity{FieldSelector: field("provider", "gcp")}, Weight: 1},
		}}
		return foWorkload{Workload: scheduler.Workload{Key: "batch", Replicas: 15 + k,
			Policy: scheduler.Policy{MaxSurge: "1", Placement: scheduler.Placement{ReplicaScheduling: divided(scheduler.Weighted, wp)}}}}
	},
	// Inside Switzerland, no takeover: a lost share stays missing.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "ledger", Replicas: 6 + k, Bound: []string{"CH"},
			Policy: scheduler.Policy{Takeover: &off}}}
	},
	// Duplicated on the gpu clusters.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "cache", Replicas: 2 + k,
			Policy: scheduler.Policy{Placement: scheduler.Placement{
				ClusterAffinity: &scheduler.ClusterAffinity{LabelSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"tier": "gpu"}}},
				ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}}}},
			expect: func(c *scheduler.Cluster) bool { return c.Labels["tier"] == "gpu" }}
	},
	// Divided inside the EU and Switzerland over four sites at most, takeover of one
	// replica at most.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "pay", Replicas: 8 + k, Bound: []string{"EU", "CH"},
			Policy: scheduler.Policy{MaxSurge: "1", Placement: scheduler.Placement{
				SpreadConstraints: []scheduler.SpreadConstraint{{SpreadByField: "site", MaxGroups: 4}}}}}}
	},
	// Duplicated inside the US: region us-1 first, any US cluster when us-1 has none usable.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "agent", Replicas: 1 + k, Bound: []string{"US"},
			Policy: scheduler.Policy{Placement: scheduler.Placement{
				ClusterAffinities: []scheduler.ClusterAffinityTerm{
					{AffinityName: "us-1", ClusterAffinity: scheduler.ClusterAffinity{FieldSelector: field("region", "us-1")}},
					{AffinityName: "us", ClusterAffinity: scheduler.ClusterAffinity{FieldSelector: field("jurisdiction", "US")}},
				},
				ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}}}},
			expect: func(c *scheduler.Cluster) bool { return c.Region == "us-1" }}
	},
	// Divided over two named clusters, falling back to any EU cluster.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "ml", Replicas: 6 + k,
			Policy: scheduler.Policy{Placement: scheduler.Placement{
				ClusterAffinities: []scheduler.ClusterAffinityTerm{
					{AffinityName: "pinned", ClusterAffinity: scheduler.ClusterAffinity{ClusterNames: []string{"s00/b", "s04/b"}}},
					{AffinityName: "eu", ClusterAffinity: scheduler.ClusterAffinity{FieldSelector: field("jurisdiction", "EU")}},
				}}}}}
	},
}

// foDynamicTemplates read the clusters' free capacity.
var foDynamicTemplates = []func(k int) foWorkload{
	// Dynamic weights: available replicas.
	func(k int) foWorkload {
		wp := &scheduler.WeightPreference{DynamicWeight: scheduler.AvailableReplicas}
		return foWorkload{Workload: scheduler.Workload{Key: "search", Replicas: 20 + k, Request: pods,
			Policy: scheduler.Policy{Placement: scheduler.Placement{ReplicaScheduling: divided(scheduler.Weighted, wp)}}}}
	},
	// Aggregated inside APAC, no takeover.
	func(k int) foWorkload {
		return foWorkload{Workload: scheduler.Workload{Key: "report", Replicas: 5 + k, Bound: []string{"APAC"}, Request: pods,
			Policy: scheduler.Policy{Takeover: &off, Placement: scheduler.Placement{ReplicaScheduling: divided(scheduler.Aggregated, nil)}}}}
	},
}

// inBound reports whether a cluster may run the workload under its residency bound.
func (w *foWorkload) inBound(c *scheduler.Cluster) bool {
	return len(w.Bound) == 0 || slices.Contains(w.Bound, c.Jurisdiction)
}
