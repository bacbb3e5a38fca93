package scheduler

import "time"

// State is what a site knows when it divides a workload: the charter's sites with its own
// view of their liveness, and every cluster as the replicated state describes it. Every
// field except Site.Alive is converged state, so sites with the same view of liveness
// compute the same division.
type State struct {
	Sites    []Site    // sorted by name
	Clusters []Cluster // sorted by site, then name
	// Now is the viewing site's clock, against which the timestamps of the state are read
	// (failover.go); zero: nothing timed happens.
	Now time.Time
}

// Site is one site of the charter.
type Site struct {
	Name         string
	Region       string
	Jurisdiction string
	Alive        bool // in the viewing site's membership (always true for itself)
	// Draining: the charter marks the site as leaving. Nothing is placed on it; what it
	// runs it keeps, as a failback hold, until the others have their replicas ready.
	Draining bool
}

// Cluster is one member cluster as its site publishes it.
type Cluster struct {
	Site, Name             string
	Jurisdiction           string // the site's, from the charter
	Labels                 map[string]string
	Provider, Region, Zone string
	Taints                 []Taint
	Healthy                bool
	Available              Resources // free capacity, summed over ready nodes
}

// Resources are amounts by resource name: "cpu" in millicores, "memory" in bytes, "pods",
// and extended resources ("nvidia.com/gpu": Extended) in whole units.
type Resources map[string]int64

// Workload is what the scheduler needs of one workload.
type Workload struct {
	Key      string   // <namespace>/<name>
	Replicas int      // desired replicas; -1 for kinds without replicas (placed whole in each cluster)
	Bound    []string // jurisdictions it may run in; empty: anywhere
	Policy   Policy
	Request  Resources // per replica, for dynamic weights and aggregation; may be empty
	// Status is what each site reports for the workload, by "<site>/<cluster>".
	Status map[string]Observed
	// Version, if not 0, stands for all the fields above but Key: two workloads with the
	// same Key and Version must be alike in all of them. A Replanner given a workload
	// with the Version it had in the previous pass takes it as unchanged without reading
	// it; given 0 or another Version, it reads it. Planner ignores it.
	Version uint64
}

// Observed is a site's report of the workload in one of its clusters.
type Observed struct {
	Desired int // replicas the site applied
	Ready   int
	// UnhealthySince is when the workload became unhealthy there, as its site saw it
	// (zero: healthy, or not reported).
	UnhealthySince time.Time
	// EvictedAt is when its site evicted the workload from the cluster (application
	// failover; zero: never).
	EvictedAt time.Time
}

// Reasons given for a share.
const (
	ReasonRule     = "rule"     // the policy's division among available sites or clusters
	ReasonTakeover = "takeover" // replicas taken over from unavailable sites or clusters
	ReasonHold     = "failback" // replicas kept until a returning site or cluster is ready
)

// Division is the global division of one workload across sites.
type Division struct {
	Workload   string
	Replicas   int      // desired replicas (-1 for kinds without replicas)
	Duplicated bool     // each placed cluster runs all replicas
	Sites      []Share  // sites with a share, sorted by name
	Missing    int      // desired replicas no available site runs (Divided only)
	Conditions []string // why the placement is short of the policy, if it is
}

// Share is one site's or one cluster's part of a workload, and why.
type Share struct {
	Name     string // site name, or cluster name for a local placement
	Replicas int    // replicas to run (Duplicated: per cluster)
	Base     int    // the share when every site is alive and nothing is held
	Takeover int    // of Replicas, taken over from unavailable sites or clusters
	Hold     int    // of Replicas, kept until a returning site or cluster is ready
	Reason   string // rule, takeover or failback, with details after a colon
}
