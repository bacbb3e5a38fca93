package site

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"atoll/peering"
)

// The defaults, written out: a default that drifts fails here, and must be changed here
// on purpose (and in docs/DEPLOY.md).
func TestDefaultConfigValues(t *testing.T) {
	c, tu := DefaultConfig(), DefaultTuning()
	s, h, m := c.Sync, c.HTTPLimits, c.Membership
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"profile", c.Profile, "wan"},
		{"membership.probeInterval", m.ProbeInterval.D(), time.Second},
		{"membership.probeTimeout", m.ProbeTimeout.D(), 500 * time.Millisecond},
		{"membership.suspicionMult", m.SuspicionMult, 3},
		{"membership.suspicionMaxTimeoutMult", m.SuspicionMaxTimeoutMult, 2},
		{"membership.gossipToTheDeadTime", m.GossipToTheDeadTime.D(), time.Minute},
		{"membership.gossipInterval", m.GossipInterval.D(), 200 * time.Millisecond},
		{"membership.pushPullInterval", m.PushPullInterval.D(), time.Minute},
		{"sync.fanout", s.Fanout, 2},
		{"sync.queueLength", s.QueueLength, 4096},
		{"sync.interval", s.Interval.D(), 30 * time.Second},
		{"sync.grace", s.Grace.D(), 500 * time.Millisecond},
		{"sync.sessionTimeout", s.SessionTimeout.D(), 30 * time.Second},
		{"sync.metaInterval", s.MetaInterval.D(), time.Second},
		{"sync.rejoin", s.Rejoin.D(), 10 * time.Second},
		{"sync.ack", s.Ack.D(), 30 * time.Second},
		{"observe", c.Observe.D(), 2 * time.Second},
		{"resync", c.Resync.D(), 5 * time.Minute},
		{"schedule.settle", c.Schedule.Settle.D(), 3 * time.Second},
		{"schedule.startup", c.Schedule.Startup.D(), 10 * time.Second},
		{"httpLimits.readHeaderTimeout", h.ReadHeaderTimeout.D(), 5 * time.Second},
		{"httpLimits.bodyTimeout", h.BodyTimeout.D(), 10 * time.Second},
		{"httpLimits.writeTimeout", h.WriteTimeout.D(), 30 * time.Second},
		{"httpLimits.idleTimeout", h.IdleTimeout.D(), time.Minute},
		{"httpLimits.maxHeaderBytes", h.MaxHeaderBytes, 64 << 10},
		{"httpLimits.maxConns", h.MaxConns, 8192},
		{"httpLimits.maxStreams", h.MaxStreams, 4096},
		{"httpLimits.submitBytes", h.SubmitBytes, 16 << 20},
		{"httpLimits.submitWait", h.SubmitWait.D(), 2 * time.Second},
		{"httpLimits.submitRate", h.SubmitRate, 100.0},
		{"httpLimits.submitBurst", h.SubmitBurst, 200},
		{"replica.heartbeat", DefaultReplicaConfig().Heartbeat.D(), time.Second},
		{"oidc.sessionTTL", DefaultOIDCConfig().SessionTTL.D(), 8 * time.Hour},
		{"oidc.maxSessions", DefaultOIDCConfig().MaxSessions, 4096},
		{"oidc.groupsClaim", DefaultOIDCConfig().GroupsClaim, "groups"},
		{"oidc.scopes", DefaultOIDCConfig().Scopes, []string{"profile", "email", "groups"}},

		{"Tuning.Reconcile", tu.Reconcile, 30 * time.Second},
		{"Tuning.ReconcileBurst", tu.ReconcileBurst, 5 * time.Millisecond},
		{"Tuning.StatusBurst", tu.StatusBurst, 100 * time.Millisecond},
		{"Tuning.SoftPassPace", tu.SoftPassPace, 2},
		{"Tuning.ReconcileBackoff", tu.ReconcileBackoff, 100 * time.Millisecond},
		{"Tuning.ReconcileBackoffMax", tu.ReconcileBackoffMax, 30 * time.Second},
		{"Tuning.Capacity", tu.Capacity, 30 * time.Second},
		{"Tuning.SyncTick", tu.SyncTick, 100 * time.Millisecond},
		{"Tuning.MaxSessionsPerPeer", tu.MaxSessionsPerPeer, 2},
		{"Tuning.MaxSessionsIn", tu.MaxSessionsIn, 16},
		{"Tuning.DialTimeout", tu.DialTimeout, 5 * time.Second},
		{"Tuning.WriteTimeout", tu.WriteTimeout, 10 * time.Second},
		{"Tuning.PushBackoff", tu.PushBackoff, 100 * time.Millisecond},
		{"Tuning.PushBackoffMax", tu.PushBackoffMax, 5 * time.Second},
		{"Tuning.SoftPushBackoffMax", tu.SoftPushBackoffMax, 30 * time.Second},
		{"Tuning.MaxPushStreamsPerPeer", tu.MaxPushStreamsPerPeer, 2},
		{"Tuning.PushBatch", tu.PushBatch, 256},
		{"Tuning.HintInterval", tu.HintInterval, 100 * time.Millisecond},
		{"Tuning.PushVersionWait", tu.PushVersionWait, 2 * time.Second},
		{"Tuning.HintRefresh", tu.HintRefresh, 5 * time.Second},
		{"Tuning.Budget", tu.Budget, peering.DefaultBudgetConfig()},
		{"Tuning.ApplyParallel", tu.ApplyParallel, 16},
		{"Tuning.ClusterFailures", tu.ClusterFailures, 3},
		{"Tuning.SoftQueue", tu.SoftQueue, 16384},
		{"Tuning.SoftEvery", tu.SoftEvery, time.Second},
		{"Tuning.SoftSafety", tu.SoftSafety, 30 * time.Second},
		{"Tuning.SoftBuckets", tu.SoftBuckets, 10 * time.Second},
		{"Tuning.JoinBackoff", tu.JoinBackoff, 200 * time.Millisecond},
		{"Tuning.JoinBackoffMax", tu.JoinBackoffMax, 5 * time.Second},
		{"Tuning.RejoinProbe", tu.RejoinProbe, time.Second},
		{"Tuning.LeaveTimeout", tu.LeaveTimeout, time.Second},
		{"Tuning.MetaTimeout", tu.MetaTimeout, time.Second},
		{"Tuning.ViewGap", tu.ViewGap, 500 * time.Millisecond},
		{"Tuning.ViewBeat", tu.ViewBeat, 2 * time.Second},
		{"Tuning.APIReadHeaderTimeout", tu.APIReadHeaderTimeout, 5 * time.Second},
		{"Tuning.MaxWait", tu.MaxWait, time.Minute},
		{"Tuning.StoreOpenTimeout", tu.StoreOpenTimeout, 5 * time.Second},
		{"Tuning.RestoreLockWait", tu.RestoreLockWait, 500 * time.Millisecond},
		{"Tuning.RestoreProbe", tu.RestoreProbe, 2 * time.Second},
		{"Tuning.RaftTimeout", tu.RaftTimeout, 10 * time.Second},
		{"Tuning.RaftPool", tu.RaftPool, 3},
		{"Tuning.RaftApply", tu.RaftApply, 10 * time.Second},
		{"Tuning.ForwardEvery", tu.ForwardEvery, time.Second},
		{"Tuning.ForwardTimeout", tu.ForwardTimeout, 10 * time.Second},
		{"Tuning.ForwardBatch", tu.ForwardBatch, 1024},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: default %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if c.Tuning != tu {
		t.Errorf("DefaultConfig's Tuning %+v is not DefaultTuning %+v", c.Tuning, tu)
	}
	if n := reflect.TypeFor[Tuning]().NumField(); n != 45 {
		t.Errorf("Tuning has %d fields: add the new ones to this table", n)
	}
	if err := (Config{Name: "a", Identity: "a.key", Genesis: "g", DataDir: "d", Listen: "127.0.0.1:1"}).WithDefaults().Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

// Every tunable has a default: no field of DefaultConfig's tunable sections, nor of
// DefaultTuning, DefaultReplicaConfig's Heartbeat or DefaultOIDCConfig's, is zero.
func TestDefaultsComplete(t *testing.T) {
	c := DefaultConfig()
	for name, v := range map[string]any{"membership": c.Membership, "sync": c.Sync, "schedule": c.Schedule, "httpLimits": c.HTTPLimits, "Tuning": c.Tuning} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Errorf("%s.%s has no default", name, rv.Type().Field(i).Name)
			}
		}
	}
	if c.Observe == 0 || c.Resync == 0 || DefaultReplicaConfig().Heartbeat == 0 {
		t.Error("observe, resync or replica.heartbeat has no default")
	}
	o := DefaultOIDCConfig()
	if o.SessionTTL == 0 || o.MaxSessions == 0 || o.GroupsClaim == "" || o.Scopes == nil {
		t.Errorf("an OIDC default is missing: %+v", o)
	}
}

// A site.yaml that sets no tunable loads to the defaults of its profile; WithDefaults
// fills every field (a zero Config becomes DefaultConfig) and keeps what is set.
func TestWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    Config
	}{{"", DefaultConfig()}, {"wan", DefaultWANConfig()}, {"wan-legacy", DefaultWANLegacyConfig()}, {"lan", DefaultLANConfig()}, {"local", DefaultLocalConfig()}} {
		body := minimal
		if tc.profile != "" {
			body += "profile: " + tc.profile + "\n"
		}
		c, err := LoadConfig(writeConfig(t, body))
		if err != nil {
			t.Fatal(err)
		}
		got := c.WithDefaults()
		want := tc.want
		want.Name, want.Identity, want.Genesis, want.Listen, want.DataDir, want.dir = c.Name, c.Identity, c.Genesis, c.Listen, c.DataDir, c.dir
		if !reflect.DeepEqual(got, want) {
			t.Errorf("profile %q: a file without tunables loads to\n%+v\nwant\n%+v", tc.profile, got, want)
		}
		if z := (Config{Profile: tc.profile}).WithDefaults(); !reflect.DeepEqual(z, tc.want) {
			t.Errorf("profile %q: the zero Config with defaults is\n%+v\nwant\n%+v", tc.profile, z, tc.want)
		}
	}

	rep := &ReplicaConfig{ID: "r0", Peers: []ReplicaPeer{{ID: "r0", Address: "a:1"}}}
	oidc := &OIDCConfig{Issuer: "https://id.example.org", Scopes: []string{}}
	c := Config{Sync: SyncConfig{Grace: Duration(2 * time.Second)}, Replica: rep, OIDC: oidc, Tuning: Tuning{SyncTick: time.Millisecond}}
	d := c.WithDefaults()
	if d.Sync.Grace.D() != 2*time.Second || d.Sync.Interval.D() != 30*time.Second || d.Tuning.SyncTick != time.Millisecond || d.Tuning.SoftEvery != time.Second {
		t.Errorf("set fields are kept, the others filled: sync %+v, tuning %+v", d.Sync, d.Tuning)
	}
	if d.Replica.Heartbeat.D() != time.Second || d.OIDC.SessionTTL.D() != 8*time.Hour || len(d.OIDC.Scopes) != 0 {
		t.Errorf("replica %+v, oidc %+v: want their defaults, and an empty scope list kept", d.Replica, d.OIDC)
	}
	if rep.Heartbeat != 0 || oidc.SessionTTL != 0 || d.Replica == rep || d.OIDC == oidc {
		t.Error("WithDefaults changed the sections of the Config it was given")
	}
	if (Config{}).WithDefaults().Replica != nil || (Config{}).WithDefaults().OIDC != nil {
		t.Error("WithDefaults added an optional section")
	}
}

// A profile differs from DefaultConfig only in Profile and Membership, and, but for wan
// (measured: TestDefaultConfigValues), its Membership is memberlist's profile of the same
// kind: the values sites ran with before the profiles were written out, wan-legacy those
// of the wan profile before the defaults were measured.
func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		ml   *memberlist.Config // nil: not memberlist's
	}{
		{"wan", DefaultWANConfig(), nil},
		{"wan-legacy", DefaultWANLegacyConfig(), memberlist.DefaultWANConfig()},
		{"lan", DefaultLANConfig(), memberlist.DefaultLANConfig()},
		{"local", DefaultLocalConfig(), memberlist.DefaultLocalConfig()},
	} {
		if tc.c.Profile != tc.name {
			t.Errorf("profile %s: named %q", tc.name, tc.c.Profile)
		}
		rest := tc.c
		rest.Profile, rest.Membership = DefaultConfig().Profile, DefaultConfig().Membership
		if !reflect.DeepEqual(rest, DefaultConfig()) {
			t.Errorf("profile %s differs from DefaultConfig beyond profile and membership", tc.name)
		}
		m, ml := tc.c.Membership, tc.ml
		if ml != nil && (m.ProbeInterval.D() != ml.ProbeInterval || m.ProbeTimeout.D() != ml.ProbeTimeout || m.SuspicionMult != ml.SuspicionMult ||
			m.SuspicionMaxTimeoutMult != ml.SuspicionMaxTimeoutMult || m.GossipToTheDeadTime.D() != ml.GossipToTheDeadTime ||
			m.GossipInterval.D() != ml.GossipInterval || m.PushPullInterval.D() != ml.PushPullInterval) {
			t.Errorf("profile %s: membership %+v is not memberlist's", tc.name, m)
		}
		// Through WithDefaults, a file naming the profile builds the same memberlist
		// configuration as before.
		if ml == nil {
			continue
		}
		raw := Config{Profile: tc.name, Membership: MembershipConfig{SuspicionMult: 2}}
		a, b := raw.memberlistConfig(), raw.WithDefaults().memberlistConfig()
		a.Name, b.Name = "", ""
		if !reflect.DeepEqual(a, b) {
			t.Errorf("profile %s: memberlist configuration changed by WithDefaults:\n%+v\n%+v", tc.name, a, b)
		}
	}
}

// A negative tunable is refused with the field's name.
func TestValidateNamesField(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{minimal + "sync: {fanout: -1}\n", "sync.fanout -1"},
		{minimal + "membership: {suspicionMult: -2}\n", "membership.suspicionMult -2"},
	} {
		_, err := LoadConfig(writeConfig(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: error %v, want it to mention %q", tc.body, err, tc.want)
		}
	}
}
