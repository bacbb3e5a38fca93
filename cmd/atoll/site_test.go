package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// shared is a site.yaml as the Helm chart renders it for three replicas: one file for
// every pod, so no replica id and no advertise address in it.
const shared = `name: us-east
identity: /etc/atoll/identity/identity.key
genesis: /etc/atoll/genesis/genesis.atoll
listen: 0.0.0.0:7946
dataDir: /var/lib/atoll
replica:
  peers:
  - {id: us-east-0, address: "us-east-0.us-east-peers.atoll.svc.cluster.local:7946"}
  - {id: us-east-1, address: "us-east-1.us-east-peers.atoll.svc.cluster.local:7946"}
  - {id: us-east-2, address: "us-east-2.us-east-peers.atoll.svc.cluster.local:7946"}
clusters:
- {name: prod-1, kubeconfig: /etc/atoll/clusters/prod-1/kubeconfig, labels: {tier: prod}}
`

// TestSiteFlags: --replica-id and --advertise complete a shared site.yaml; what is still
// missing or wrong is an error that names it.
func TestSiteFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sharedPath := write("shared.yaml", shared)
	single := write("single.yaml", strings.SplitN(shared, "replica:", 2)[0])
	load := func(args ...string) (siteFlags, error) {
		var sf siteFlags
		cmd := &cobra.Command{Use: "site"}
		sf.add(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			return sf, err
		}
		_, err := sf.load()
		return sf, err
	}

	sf, err := load("--config", sharedPath, "--replica-id", "us-east-1", "--advertise", "10.4.0.7:7946")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sf.load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Replica.ID != "us-east-1" || cfg.Advertise != "10.4.0.7:7946" || len(cfg.Replica.Peers) != 3 || len(cfg.Clusters) != 1 {
		t.Fatalf("config with flags: replica %+v advertise %q clusters %+v", cfg.Replica, cfg.Advertise, cfg.Clusters)
	}
	if cfg, err = (siteFlags{config: single, advertise: "[fd00::7]:7946"}).load(); err != nil || cfg.Advertise != "[fd00::7]:7946" || cfg.Replica != nil {
		t.Fatalf("one replica, IPv6 advertise: %+v, %v", cfg, err)
	}

	// A replica's own advertise in the file (its load balancer) is what it tells other
	// sites, unless --advertise says otherwise.
	perPod := write("per-pod.yaml", strings.Replace(shared, `address: "us-east-1.us-east-peers.atoll.svc.cluster.local:7946"`,
		`address: "us-east-1.us-east-peers.atoll.svc.cluster.local:7946", advertise: "198.51.100.11:7946"`, 1))
	if cfg, err = (siteFlags{config: perPod, replicaID: "us-east-1"}).load(); err != nil || cfg.AdvertiseAddr() != "198.51.100.11:7946" {
		t.Fatalf("replica advertise from the file: %q, %v", cfg.AdvertiseAddr(), err)
	}
	if cfg, err = (siteFlags{config: perPod, replicaID: "us-east-1", advertise: "10.4.0.7:7946"}).load(); err != nil || cfg.AdvertiseAddr() != "10.4.0.7:7946" {
		t.Fatalf("--advertise over the replica's: %q, %v", cfg.AdvertiseAddr(), err)
	}
	if _, err = (siteFlags{config: perPod, replicaID: "us-east-0"}).load(); err == nil || !strings.Contains(err.Error(), "set advertise") {
		t.Fatalf("replica without an advertise address on 0.0.0.0: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", sharedPath, "--advertise", "10.4.0.7:7946"}, "replica.id is not set (atoll site --replica-id)"},
		{[]string{"--config", sharedPath, "--replica-id", "us-east-1"}, "listen 0.0.0.0:7946 is every address: set advertise (atoll site --advertise)"},
		{[]string{"--config", sharedPath, "--replica-id", "us-east-3", "--advertise", "10.4.0.7:7946"}, `replica id "us-east-3" is not one of the peers`},
		{[]string{"--config", single, "--replica-id", "us-east-0", "--advertise", "10.4.0.7:7946"}, "--replica-id us-east-0: " + single + " has no replica section"},
		{[]string{"--config", single, "--advertise", "us-east.example.com:7946"}, `advertise "us-east.example.com:7946": want ip:port`},
		{[]string{"--config", single, "--advertise", "10.4.0.7"}, `advertise "10.4.0.7"`},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "no such file"},
	} {
		if _, err := load(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error with %q", tc.args, err, tc.want)
		}
	}

	// The flags are those of atoll site.
	for _, name := range []string{"config", "replica-id", "advertise", "log-format"} {
		if newSiteCmd().Flags().Lookup(name) == nil {
			t.Errorf("atoll site has no --%s", name)
		}
	}
}
