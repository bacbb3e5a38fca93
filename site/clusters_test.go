package site

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/site/kube"
	"atoll/site/store"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// testDataKey seals the kubeconfigs of the site's tests that build a Site by hand.
var testDataKey = func() *store.DataKey {
	k, err := store.NewDataKey(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// TestJoinDeclared: the clusters of site.yaml are joined at start unless the registry
// already holds them as declared; a changed declaration joins again; a cluster whose
// kubeconfig is missing is an event, not a stop; clusters joined by hand stay.
func TestJoinDeclared(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c1.kubeconfig"), []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "s0", Clusters: []ClusterConfig{
		{Name: "c1", Kubeconfig: "c1.kubeconfig", Labels: map[string]string{"tier": "prod"}, Taints: []string{"gpu=true:NoSchedule"}},
		{Name: "c2", Kubeconfig: "missing.kubeconfig"},
	}}
	cfg.SetDir(dir)
	s := &Site{cfg: cfg, log: slog.New(slog.DiscardHandler),
		reconciler: reconciler{kubes: kube.NewRegistry(filepath.Join(dir, "data"), testDataKey), clustersWake: make(chan struct{}, 1)},
		telemetry:  telemetry{events: newEventLog()}}
	if err := s.kubes.Join(kube.Entry{Name: "by-hand"}, []byte(testKubeconfig)); err != nil {
		t.Fatal(err)
	}
	list := func() string {
		t.Helper()
		es, err := s.kubes.List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name+" "+strings.Join(e.Taints, ",")+" "+e.Labels["tier"])
		}
		return strings.Join(out, "; ")
	}
	events := func() []string {
		es, _ := s.events.recent(0)
		var out []string
		for _, e := range es {
			out = append(out, e.Message)
		}
		return out
	}

	s.joinDeclared()
	if got, want := list(), "by-hand  ; c1 gpu=true:NoSchedule prod"; got != want {
		t.Fatalf("after the first start: %q, want %q", got, want)
	}
	ev := events()
	if len(ev) != 2 || !strings.Contains(ev[0], "s0/c2 from site.yaml not joined") || !strings.Contains(ev[0], "missing.kubeconfig") || ev[1] != "s0/c1 joined from site.yaml" {
		t.Fatalf("events %q", ev)
	}

	s.joinDeclared() // nothing changed: no join
	if ev := events(); len(ev) != 3 || !strings.Contains(ev[0], "c2") {
		t.Fatalf("second start joined again: %q", ev)
	}

	s.cfg.Clusters[0].Labels["tier"] = "dev"
	s.cfg.Clusters = s.cfg.Clusters[:1]
	s.joinDeclared()
	if got, want := list(), "by-hand  ; c1 gpu=true:NoSchedule dev"; got != want {
		t.Fatalf("after changing the labels: %q, want %q", got, want)
	}
	if ev := events(); len(ev) != 4 || ev[0] != "s0/c1 joined from site.yaml" {
		t.Fatalf("events %q", ev)
	}

	// A new kubeconfig in the file (a rotated Secret) is joined again.
	rotated := strings.Replace(testKubeconfig, "token: secret", "token: rotated", 1)
	if err := os.WriteFile(filepath.Join(dir, "c1.kubeconfig"), []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	s.joinDeclared()
	if ev := events(); len(ev) != 5 || ev[0] != "s0/c1 joined from site.yaml" {
		t.Fatalf("after rotating the kubeconfig: events %q", ev)
	}
	sealed, err := os.ReadFile(filepath.Join(dir, "data", "clusters", "c1", "kubeconfig"))
	if err != nil || strings.Contains(string(sealed), "rotated") {
		t.Fatalf("registry kubeconfig %q, %v: want it sealed", sealed, err)
	}
	if b, err := testDataKey.Open("kubeconfig", []byte("c1"), sealed); err != nil || string(b) != rotated {
		t.Fatalf("registry kubeconfig opens to %q, %v", b, err)
	}
}

// TestProbed: a healthy cluster turns unhealthy at the third failed probe in a row, not
// before; a good probe in between starts the count again; an unhealthy one is healthy at
// its first good probe.
func TestProbed(t *testing.T) {
	healthy, failures := true, 0
	var got []bool
	for _, ok := range []bool{false, false, true, false, false, false, false, true} {
		healthy, failures = probed(healthy, ok, failures, 3)
		got = append(got, healthy)
	}
	want := []bool{true, true, true, true, true, false, false, true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("health after each probe %v, want %v", got, want)
	}
	if h, _ := probed(false, false, 0, 1); h {
		t.Fatal("an unhealthy cluster whose probe fails is healthy")
	}
	if h, _ := probed(true, false, 0, 1); h {
		t.Fatal("with a threshold of 1, a failed probe leaves the cluster healthy")
	}
}
