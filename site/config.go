package site

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/memberlist"
	"sigs.k8s.io/yaml"

	"atoll/site/kube"
)

// Config is a site's configuration file (site.yaml). Relative paths are relative to the
// file's directory.
type Config struct {
	Name     string `json:"name"`     // the site's name in the charter
	Identity string `json:"identity"` // PEM file with the site's Ed25519 key (atoll keys new)
	// NextIdentity, if set, is the PEM file of the key staged to replace Identity (atoll
	// keys new). Once an applied charter amendment (atoll charter propose --rotate
	// site/NAME=KEY) lists the site's name with its key, the site signs, handshakes and
	// keeps bodies as that key while it runs (rotate.go). The file may appear after the
	// start: it is read again at every charter change. Site replicas need it at start.
	NextIdentity string `json:"nextIdentity,omitempty"`
	// PreviousIdentity, if set, is the PEM file of the key Identity replaced: at start, a
	// data file and kubeconfigs sealed under its data key are re-sealed under Identity's
	// (docs/adr/0007-data-at-rest.md). Remove it, and the file, once the site ran once.
	PreviousIdentity string   `json:"previousIdentity,omitempty"`
	Genesis          string   `json:"genesis"`                // the federation's genesis charter change (atoll keys charter)
	Listen           string   `json:"listen"`                 // host:port for TLS streams (TCP) and signed probes (UDP)
	Advertise        string   `json:"advertise,omitempty"`    // ip:port other sites reach this one at; default Listen (see AdvertiseAddr)
	Seeds            []string `json:"seeds,omitempty"`        // host:port of other sites to join through
	DataDir          string   `json:"dataDir"`                // holds atoll.db, the one data file
	API              string   `json:"api,omitempty"`          // unix socket of the local API; default <dataDir>/atoll.sock
	Region           string   `json:"region,omitempty"`       // if set, must match the charter
	Jurisdiction     string   `json:"jurisdiction,omitempty"` // if set, must match the charter

	// HTTP, if set, is the host:port of the site's HTTP server: the read API, the
	// dashboard, /healthz, /readyz, /metrics, and POST /v1/changes for changes signed
	// elsewhere. It never signs on anyone's behalf. HTTPCert and HTTPKey, if set, serve it
	// over TLS.
	HTTP     string `json:"http,omitempty"`
	HTTPCert string `json:"httpCert,omitempty"`
	HTTPKey  string `json:"httpKey,omitempty"`
	// HTTPLimits bounds the HTTP server's timeouts, connections, streams and submissions.
	HTTPLimits HTTPLimits `json:"httpLimits,omitzero"`
	// OIDC, if set, lets the dashboard sign people in at an OpenID provider and maps them
	// to charter operators and observers (oidcconfig.go). Needs HTTP.
	OIDC *OIDCConfig `json:"oidc,omitempty"`

	// Profile picks memberlist's timing: "wan" (default, sites in different regions),
	// "wan-legacy" (the wan timing of earlier releases, memberlist's own), "lan" or
	// "local" (one machine; tests): DefaultWANConfig, DefaultWANLegacyConfig,
	// DefaultLANConfig, DefaultLocalConfig. Membership overrides single values; its zero
	// fields take the profile's.
	Profile    string           `json:"profile,omitempty"`
	Membership MembershipConfig `json:"membership,omitzero"`
	Sync       SyncConfig       `json:"sync,omitzero"`

	// Observe is how often each member cluster is probed and its informers read (default 2s).
	Observe Duration `json:"observe,omitempty"`

	// Resync is how often every object Atoll applied in a member cluster is applied again,
	// undoing edits made there by hand (default 5m).
	Resync Duration `json:"resync,omitempty"`

	// Admission is this site's own policy for what workloads may make its member
	// clusters run: allowed kinds and the Pod Security Standard level (default baseline),
	// per namespace if need be. No signed change can override it.
	Admission kube.Admission `json:"admission,omitzero"`

	// Schedule tunes how this site reacts to other sites' liveness.
	Schedule ScheduleConfig `json:"schedule,omitzero"`

	// Replica, if set, makes this process one of several replicas of the site under Raft.
	Replica *ReplicaConfig `json:"replica,omitempty"`

	// KubeAPI, if set, serves the federation through a Kubernetes API of this site's own
	// while it leads (kubeapi.go): kubectl, Helm and GitOps tools read and write the
	// federation's templates and Karmada policies there.
	KubeAPI *KubeAPIConfig `json:"kubeAPI,omitempty"`

	// Clusters are member clusters declared in the file: whichever process leads the site
	// joins each one at start, as `atoll cluster join` does, unless the registry already
	// holds it with the same kubeconfig, labels and taints. For kubeconfigs mounted as
	// files (the Helm chart's Secrets). Clusters joined by hand are left alone, and
	// removing one from this list does not unjoin it (atoll cluster unjoin does).
	Clusters []ClusterConfig `json:"clusters,omitempty"`

	// Observer makes this process a read-only member: Name and Identity are an observer
	// of the charter. It keeps a replica through sessions it starts with sites, and
	// serves the API and dashboard, but writes nothing, pushes nothing and runs no
	// clusters; bounded bodies stay redacted at it (atoll observe).
	Observer bool `json:"observer,omitempty"`

	// Join lets a site that the charter it holds does not list yet start: a new region
	// added by a charter amendment (atoll charter). It syncs from its seeds, which accept
	// it once they hold the amendment, and writes nothing until the charter lists it.
	// The checks of name, key, region and jurisdiction apply from the next start on.
	Join bool `json:"join,omitempty"`

	// FaultInjection enables the API's /v1/faults endpoint, which cuts this site off from
	// named peers. For tests only.
	FaultInjection bool `json:"faultInjection,omitempty"`

	// Tuning holds internal timings and bounds that site.yaml cannot set (defaults.go);
	// zero fields take DefaultTuning's values. Tests shorten them.
	Tuning Tuning `json:"-"`

	dir string // directory of the file, for relative paths
}

// ClusterConfig is a member cluster joined at start (Config.Clusters).
type ClusterConfig struct {
	Name       string            `json:"name"`             // the cluster's name at this site, a DNS label
	Kubeconfig string            `json:"kubeconfig"`       // path of its kubeconfig, read at every start
	Labels     map[string]string `json:"labels,omitempty"` // as atoll cluster join --labels
	Taints     []string          `json:"taints,omitempty"` // "key=value:Effect", as atoll cluster join --taint
}

// MembershipConfig overrides memberlist's profile; a zero field takes the profile's value
// (defaults.go). Failure detection: some live site
// probes the failed one within about ProbeInterval (probes go round-robin over a shuffled
// list), suspects it after ProbeTimeout plus the failed indirect probes (the rest of that
// ProbeInterval), and declares it dead after a suspicion timeout between
//
//	min = SuspicionMult * log10(max(1, N)) * ProbeInterval   (N live sites)
//	max = SuspicionMaxTimeoutMult * min
//
// starting at max and falling towards min as other sites confirm the suspicion (Lifeguard;
// SuspicionMult-2 confirmations reach min). docs/BENCHMARKS.md has measured times.
type MembershipConfig struct {
	ProbeInterval           Duration `json:"probeInterval,omitempty"`
	ProbeTimeout            Duration `json:"probeTimeout,omitempty"`
	SuspicionMult           int      `json:"suspicionMult,omitempty"`
	SuspicionMaxTimeoutMult int      `json:"suspicionMaxTimeoutMult,omitempty"`
	GossipToTheDeadTime     Duration `json:"gossipToTheDeadTime,omitempty"` // after this, a dead site is forgotten (rejoin finds it again)
	GossipInterval          Duration `json:"gossipInterval,omitempty"`
	PushPullInterval        Duration `json:"pushPullInterval,omitempty"`
}

// SyncConfig tunes push and anti-entropy (see package peering). Zero fields take
// DefaultConfig's values, stated here.
type SyncConfig struct {
	Fanout         int      `json:"fanout,omitempty"`         // peers a relay forwards a new change to; default 2
	QueueLength    int      `json:"queueLength,omitempty"`    // changes queued per peer before falling back to anti-entropy; default 4096
	Interval       Duration `json:"interval,omitempty"`       // safety-net session period; default 30s
	Grace          Duration `json:"grace,omitempty"`          // advertised head unknown this long starts a session; default 500ms
	SessionTimeout Duration `json:"sessionTimeout,omitempty"` // one sync session; default 30s
	MetaInterval   Duration `json:"metaInterval,omitempty"`   // least time between two metadata updates; default 1s
	Rejoin         Duration `json:"rejoin,omitempty"`         // how often to look for charter sites that are not live; default 10s
	Ack            Duration `json:"ack,omitempty"`            // least time between two acknowledgements of changes held (docs/adr/0010-soft-state.md); default 30s
}

// LoadConfig reads and validates a site.yaml.
func LoadConfig(path string) (Config, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("site config %s: %w", path, err)
	}
	return c, nil
}

// ReadConfig reads a site.yaml, rejecting unknown fields, without validating it: for
// callers that complete it first (atoll site --replica-id, --advertise) and then call
// Validate.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("site config: %w", err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return Config{}, fmt.Errorf("site config %s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	return c, nil
}

// ScheduleConfig is the hysteresis on liveness that the scheduler sees.
type ScheduleConfig struct {
	// Settle: a site that was lost and comes back counts as alive after this long
	// (default 3s), so a flapping site does not move shares back and forth.
	Settle Duration `json:"settle,omitempty"`
	// Startup: for this long after the site starts leading (default 10s: at start, or when
	// a replica under Raft gains leadership), sites not yet seen count as alive, so a
	// starting site does not take over everything before the membership forms.
	Startup Duration `json:"startup,omitempty"`
}

// Validate checks the configuration without changing it.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("name is required")
	}
	if c.Identity == "" || c.Genesis == "" || c.DataDir == "" {
		return fmt.Errorf("identity, genesis and dataDir are required")
	}
	for _, a := range append([]string{c.Listen}, c.Seeds...) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("address %q: %w", a, err)
		}
	}
	if c.Advertise != "" {
		if _, err := netip.ParseAddrPort(c.Advertise); err != nil {
			return fmt.Errorf("advertise %q: want ip:port: %w", c.Advertise, err)
		}
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			return fmt.Errorf("http %q: %w", c.HTTP, err)
		}
	}
	if (c.HTTPCert == "") != (c.HTTPKey == "") || (c.HTTPCert != "" && c.HTTP == "") {
		return fmt.Errorf("httpCert and httpKey go together, with http")
	}
	if err := c.Admission.Validate(); err != nil {
		return err
	}
	if err := c.HTTPLimits.validate(); err != nil {
		return err
	}
	if c.OIDC != nil {
		if c.HTTP == "" {
			return fmt.Errorf("oidc needs http: sign-ins are the HTTP server's")
		}
		if err := c.OIDC.validate(); err != nil {
			return err
		}
	}
	if err := c.KubeAPI.validate(c.Observer); err != nil {
		return err
	}
	if c.Observer && c.Replica != nil {
		return fmt.Errorf("an observer runs as one process: no replica")
	}
	if err := c.Replica.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, m := range c.Clusters {
		if m.Name == "" || m.Kubeconfig == "" {
			return fmt.Errorf("clusters: every cluster needs a name and a kubeconfig")
		}
		if names[m.Name] {
			return fmt.Errorf("clusters: %q twice", m.Name)
		}
		names[m.Name] = true
	}
	if len(c.Clusters) > 0 && c.Observer {
		return fmt.Errorf("an observer runs no member clusters")
	}
	switch c.Profile {
	case "", "wan", "wan-legacy", "lan", "local":
	default:
		return fmt.Errorf("profile %q: want wan, wan-legacy, lan or local", c.Profile)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"observe", int64(c.Observe)}, {"resync", int64(c.Resync)},
		{"schedule.settle", int64(c.Schedule.Settle)}, {"schedule.startup", int64(c.Schedule.Startup)},
		{"sync.fanout", int64(c.Sync.Fanout)}, {"sync.queueLength", int64(c.Sync.QueueLength)},
		{"membership.suspicionMult", int64(c.Membership.SuspicionMult)},
		{"membership.suspicionMaxTimeoutMult", int64(c.Membership.SuspicionMaxTimeoutMult)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s %d: negative (0 means the default)", f.name, f.v)
		}
	}
	return nil
}

// Runnable reports what a valid file still lacks to run a process from it. A file shared
// by a site's replicas (a Kubernetes ConfigMap) is valid without a replica id and, when
// it listens on every address, without advertise: `atoll site --replica-id --advertise`
// completes it, and clients (atoll backup, atoll cluster join) read it as it is.
func (c Config) Runnable() error {
	if c.Replica != nil && c.Replica.ID == "" {
		return fmt.Errorf("replica.id is not set (atoll site --replica-id)")
	}
	if ap, err := netip.ParseAddrPort(c.Listen); err == nil && ap.Addr().IsUnspecified() && c.AdvertiseAddr() == "" {
		return fmt.Errorf("listen %s is every address: set advertise (atoll site --advertise) to the ip:port other sites reach this one at", c.Listen)
	}
	return nil
}

// AdvertiseAddr is the ip:port this process tells other sites: its replica's advertise
// if set, else advertise; empty means the listen address.
func (c Config) AdvertiseAddr() string {
	if c.Replica != nil {
		for _, p := range c.Replica.Peers {
			if p.ID == c.Replica.ID && p.Advertise != "" {
				return p.Advertise
			}
		}
	}
	return c.Advertise
}

// SetDir sets the directory relative paths are resolved against (LoadConfig sets the
// file's directory).
func (c *Config) SetDir(dir string) { c.dir = dir }

// Path resolves a path from the file against the file's directory.
func (c Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// SocketPath is the local API's unix socket.
func (c Config) SocketPath() string {
	if c.API != "" {
		return c.Path(c.API)
	}
	return filepath.Join(c.Path(c.DataDir), "atoll.sock")
}

// memberlistConfig builds memberlist's configuration from the profile, which also sets
// what Membership does not name (TCP timeout, indirect checks, retransmits, gossip
// nodes, Lifeguard's awareness), and Membership's nonzero fields: all of them once
// WithDefaults filled it. wan and wan-legacy both start from memberlist's WAN profile.
func (c Config) memberlistConfig() *memberlist.Config {
	var m *memberlist.Config
	switch c.Profile {
	case "lan":
		m = memberlist.DefaultLANConfig()
	case "local":
		m = memberlist.DefaultLocalConfig()
	default:
		m = memberlist.DefaultWANConfig()
	}
	o := c.Membership
	set := func(dst *time.Duration, v Duration) {
		if v > 0 {
			*dst = v.D()
		}
	}
	set(&m.ProbeInterval, o.ProbeInterval)
	set(&m.ProbeTimeout, o.ProbeTimeout)
	set(&m.GossipInterval, o.GossipInterval)
	set(&m.PushPullInterval, o.PushPullInterval)
	set(&m.GossipToTheDeadTime, o.GossipToTheDeadTime)
	if o.SuspicionMult > 0 {
		m.SuspicionMult = o.SuspicionMult
	}
	if o.SuspicionMaxTimeoutMult > 0 {
		m.SuspicionMaxTimeoutMult = o.SuspicionMaxTimeoutMult
	}
	return m
}
