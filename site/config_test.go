package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimal = "name: a\nidentity: a.key\ngenesis: g.atoll\nlisten: 127.0.0.1:7946\ndataDir: data\n"

func TestLoadConfig(t *testing.T) {
	p := writeConfig(t, minimal+"seeds: [\"127.0.0.2:7946\"]\nprofile: lan\nmembership: {probeInterval: 250ms, suspicionMult: 2}\nsync: {grace: 2s}\n")
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if got := c.Path(c.Identity); got != filepath.Join(dir, "a.key") {
		t.Errorf("identity resolves to %s", got)
	}
	if got := c.SocketPath(); got != filepath.Join(dir, "data", "atoll.sock") {
		t.Errorf("socket %s", got)
	}
	m := c.memberlistConfig()
	if m.ProbeInterval != 250*time.Millisecond || m.SuspicionMult != 2 || m.ProbeTimeout != 500*time.Millisecond {
		t.Errorf("memberlist: probe %v mult %d timeout %v; want the lan profile with two overrides", m.ProbeInterval, m.SuspicionMult, m.ProbeTimeout)
	}
	s := c.WithDefaults().Sync
	if s.Grace.D() != 2*time.Second || s.Interval.D() != 30*time.Second || s.Fanout != 2 {
		t.Errorf("sync defaults: %+v", s)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{minimal + "colour: blue\n", `unknown field "colour"`},
		{strings.Replace(minimal, "name: a\n", "", 1), "name is required"},
		{strings.Replace(minimal, "127.0.0.1:7946", "127.0.0.1", 1), `address "127.0.0.1"`},
		{minimal + "sync: {grace: soon}\n", `invalid duration "soon"`},
		{minimal + "sync: {grace: 5}\n", "duration must be a string"},
		{minimal + "profile: moon\n", `profile "moon"`},
		{"name: [\n", "site config"},
		{minimal + "http: localhost\n", `http "localhost"`},
		{minimal + "http: 127.0.0.1:8080\nhttpCert: c.pem\n", "httpCert and httpKey go together"},
		{minimal + "httpCert: c.pem\nhttpKey: k.pem\n", "with http"},
		{minimal + "observer: true\nreplica: {id: r0}\n", "an observer runs as one process"},
		{minimal + "replica: {id: r3, peers: [{id: r0, address: \"a-0.a:7946\"}]}\n", `replica id "r3" is not one of the peers`},
		{minimal + "replica: {id: r0, peers: [{id: r0, address: a-0}]}\n", `replica peer r0: address "a-0"`},
		{minimal + "replica: {id: r0, peers: [{id: r0, address: \"a:1\"}, {id: r0, address: \"b:1\"}]}\n", "unique"},
		{minimal + "replica: {id: r0, heartbeat: 10ms, peers: [{id: r0, address: \"a:1\"}]}\n", "replica heartbeat 10ms: want between 50ms and 1m"},
		{minimal + "advertise: atoll.example:7946\n", "want ip:port"},
		{minimal + "clusters: [{name: c1}]\n", "a name and a kubeconfig"},
		{minimal + "clusters: [{name: c1, kubeconfig: a}, {name: c1, kubeconfig: b}]\n", `"c1" twice`},
		{minimal + "httpLimits: {maxStreams: -1}\n", "httpLimits: negative limit"},
		{minimal + "httpLimits: {submitBytes: 1024}\n", "below one envelope"},
		{minimal + "httpLimits: {maxConns: 100, maxStreams: 100}\n", "leaves no connection"},
		{minimal + "httpLimits: {colour: 1}\n", `unknown field "colour"`},
	} {
		_, err := LoadConfig(writeConfig(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: error %v, want it to mention %q", tc.body, err, tc.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// HTTP limits: unset fields take their defaults; set ones are kept; validating changes
// nothing.
func TestHTTPLimits(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, minimal+"httpLimits: {maxStreams: 10, writeTimeout: 3s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := c.HTTPLimits
	if err := c.Validate(); err != nil || c.HTTPLimits != before {
		t.Fatalf("Validate: %v, limits %+v -> %+v", err, before, c.HTTPLimits)
	}
	l := c.WithDefaults().HTTPLimits
	if l.MaxStreams != 10 || l.WriteTimeout.D() != 3*time.Second || l.MaxConns != 8192 || l.SubmitBytes != 16<<20 || l.BodyTimeout.D() != 10*time.Second || l.SubmitRate != 100 {
		t.Fatalf("limits with defaults: %+v", l)
	}
	if err := l.validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

func TestKeyFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.key")
	pub, err := NewKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadKeyFile(p)
	if err != nil || s.Public() != pub {
		t.Fatalf("reloaded key %v, %v", s, err)
	}
	back, err := ParseKey(FormatKey(pub))
	if err != nil || back != pub {
		t.Fatalf("ParseKey(FormatKey) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:AAAA", "rsa:" + FormatKey(pub)[8:], FormatKey(pub) + "x"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if err := os.WriteFile(p, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a corrupt key file: %v", err)
	}
}
