package scheduler

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Policy is how one workload is placed: Karmada's Placement (the subset Atoll supports,
// with the same JSON field names, so a PropagationPolicy's spec.placement decodes into it
// unchanged) and Atoll's failover settings. It is stored, as JSON, in the workload's
// "placement" header field. The zero Policy divides the replicas over every eligible
// cluster with equal weights and takes over a lost site's share in full.
type Policy struct {
	Placement

	// Takeover: whether survivors take over the share of a site that is dead to them
	// (default true). With false a dead site's share is simply missing until it returns.
	Takeover *bool `json:"takeover,omitempty"`
	// MaxSurge caps how many replicas survivors add while taking over: a count ("3") or a
	// percentage of the desired replicas ("50%"); default "100%". A partitioned site may
	// still be running its share, so this bounds the total during a partition.
	MaxSurge string `json:"maxSurge,omitempty"`
	// Failover is Karmada's spec.failover: application failover (failover.go).
	Failover *Failover `json:"failover,omitempty"`
	// Source names the policy this came from, for explanations ("PropagationPolicy shop/web").
	Source string `json:"source,omitempty"`
}

// Placement is Karmada's policy.karmada.io/v1alpha1 Placement, the fields Atoll supports.
type Placement struct {
	ClusterAffinity    *ClusterAffinity      `json:"clusterAffinity,omitempty"`
	ClusterAffinities  []ClusterAffinityTerm `json:"clusterAffinities,omitempty"`
	ClusterTolerations []Toleration          `json:"clusterTolerations,omitempty"`
	SpreadConstraints  []SpreadConstraint    `json:"spreadConstraints,omitempty"`
	ReplicaScheduling  *ReplicaScheduling    `json:"replicaScheduling,omitempty"`
}

// ClusterAffinity selects clusters. A cluster name is either "<cluster>" (that name at any
// site) or "<site>/<cluster>". All set conditions must hold.
type ClusterAffinity struct {
	LabelSelector   *metav1.LabelSelector `json:"labelSelector,omitempty"`
	FieldSelector   *FieldSelector        `json:"fieldSelector,omitempty"`
	ClusterNames    []string              `json:"clusterNames,omitempty"`
	ExcludeClusters []string              `json:"exclude,omitempty"`
}

// ClusterAffinityTerm is one of an ordered list of fallback affinities: the first term
// with an available cluster is used.
type ClusterAffinityTerm struct {
	AffinityName string `json:"affinityName"`
	ClusterAffinity
}

// FieldSelector matches cluster fields: provider, region and zone as in Karmada, and
// Atoll's site and jurisdiction.
type FieldSelector struct {
	MatchExpressions []Requirement `json:"matchExpressions,omitempty"`
}

// Requirement is a key, an operator (In, NotIn, Exists, DoesNotExist) and values.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Toleration tolerates cluster taints, as a pod tolerates node taints.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"` // Equal (default) or Exists
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"` // NoSchedule, NoExecute, or "" for both
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Taint marks a cluster so that only tolerating workloads are placed on it.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"` // NoSchedule or NoExecute
	// Since is when the cluster's site set the taint (zero: not known, as before format
	// level 4): a NoExecute taint tolerated for tolerationSeconds is counted from it.
	Since time.Time `json:"-"`
}

// SpreadConstraint bounds the number of groups (sites, regions, zones, providers or
// clusters) a workload is placed in.
type SpreadConstraint struct {
	SpreadByField string `json:"spreadByField,omitempty"` // site, cluster, region, zone, provider
	SpreadByLabel string `json:"spreadByLabel,omitempty"`
	MaxGroups     int    `json:"maxGroups,omitempty"`
	MinGroups     int    `json:"minGroups,omitempty"`
}

// ReplicaScheduling is Karmada's replica scheduling strategy.
type ReplicaScheduling struct {
	ReplicaSchedulingType     string            `json:"replicaSchedulingType,omitempty"`     // Duplicated or Divided
	ReplicaDivisionPreference string            `json:"replicaDivisionPreference,omitempty"` // Aggregated or Weighted
	WeightPreference          *WeightPreference `json:"weightPreference,omitempty"`
}

// WeightPreference weighs clusters statically, or dynamically by available replicas.
type WeightPreference struct {
	StaticWeightList []StaticWeight `json:"staticWeightList,omitempty"`
	DynamicWeight    string         `json:"dynamicWeight,omitempty"` // AvailableReplicas
}

// StaticWeight gives the clusters its affinity selects a weight.
type StaticWeight struct {
	TargetCluster ClusterAffinity `json:"targetCluster"`
	Weight        int64           `json:"weight"`
}

// Values of the enumerations above.
const (
	Duplicated        = "Duplicated"
	Divided           = "Divided"
	Aggregated        = "Aggregated"
	Weighted          = "Weighted"
	AvailableReplicas = "AvailableReplicas"
	NoSchedule        = "NoSchedule"
	NoExecute         = "NoExecute"
)
