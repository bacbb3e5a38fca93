//go:build !release

package main

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	demofiles "atoll/examples/demo"
	"atoll/policy"
	"atoll/scheduler"
)

// demoState is the demo federation as the scheduler sees it, with the sites in dead dead.
func demoState(dead ...string) *scheduler.State {
	st := &scheduler.State{}
	for _, s := range demoSites {
		st.Sites = append(st.Sites, scheduler.Site{Name: s.Name, Region: s.Region, Jurisdiction: s.Jurisdiction, Alive: !slices.Contains(dead, s.Name)})
		for k, tier := range demoClusterTiers {
			st.Clusters = append(st.Clusters, scheduler.Cluster{
				Site: s.Name, Name: s.Name + "-" + strconv.Itoa(k+1), Jurisdiction: s.Jurisdiction, Region: s.Region,
				Labels: map[string]string{"tier": tier}, Healthy: true,
				Available: scheduler.Resources{"cpu": 12000, "memory": 48 << 30, "pods": 330},
			})
		}
	}
	slices.SortFunc(st.Sites, func(a, b scheduler.Site) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(st.Clusters, func(a, b scheduler.Cluster) int { return strings.Compare(a.Site+"/"+a.Name, b.Site+"/"+b.Name) })
	return st
}

// TestDemoExamples resolves examples/demo as atoll apply does and places the workloads
// over the demo's sites and clusters: the placement the demo's tour describes.
func TestDemoExamples(t *testing.T) {
	objs, err := policy.Load([]string{"../../examples/demo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, notes, err := policy.Resolve(objs)
	if err != nil || len(notes) > 0 {
		t.Fatalf("resolve: %v, notes %q", err, notes)
	}
	byKey := map[string]policy.Workload{}
	for _, w := range ws {
		byKey[w.Key] = w
	}
	embedded, _ := demofiles.Files.ReadDir(".")
	if len(embedded) != len(demoWorkloads) || len(ws) != len(demoWorkloads) {
		t.Fatalf("%d embedded files, %d workloads; want %d of each", len(embedded), len(ws), len(demoWorkloads))
	}
	place := func(key string, st *scheduler.State) (map[string]int, int) {
		w := byKey[key]
		sw := &scheduler.Workload{Key: w.Key, Replicas: w.Replicas, Bound: w.Bound, Policy: w.Policy}
		p := scheduler.NewPlanner(st)
		d := p.Divide(sw)
		out := map[string]int{}
		for _, s := range d.Sites {
			for _, c := range p.Local(sw, s) {
				if c.Replicas > 0 {
					out[c.Name] = c.Replicas
				}
			}
		}
		return out, d.Missing
	}
	for _, tc := range []struct {
		key     string
		dead    []string
		want    map[string]int
		missing int
	}{
		{"default/web", nil, map[string]int{"us-east-1": 2, "eu-west-1": 2, "ap-south-1": 2}, 0},
		{"default/api", nil, map[string]int{"us-east-1": 2, "us-east-2": 2, "eu-west-1": 1, "eu-west-2": 1, "ap-south-1": 1, "ap-south-2": 1}, 0},
		{"eu-bank/ledger", nil, map[string]int{"eu-west-1": 1, "eu-west-2": 1}, 0},
		// The tour: kill us-east, and the others take its share of api over.
		{"default/api", []string{"us-east"}, map[string]int{"eu-west-1": 2, "eu-west-2": 2, "ap-south-1": 2, "ap-south-2": 2}, 0},
		// Partition eu-west: the others do not take the EU-bound ledger over.
		{"eu-bank/ledger", []string{"eu-west"}, map[string]int{}, 2},
	} {
		if _, ok := byKey[tc.key]; !ok {
			t.Fatalf("no workload %s in examples/demo", tc.key)
		}
		got, missing := place(tc.key, demoState(tc.dead...))
		if !maps.Equal(got, tc.want) || missing != tc.missing {
			t.Errorf("%s with %v dead: placed %v, missing %d; want %v, missing %d", tc.key, tc.dead, got, missing, tc.want, tc.missing)
		}
	}
	if b := byKey["eu-bank/ledger"].Bound; !slices.Equal(b, []string{"EU"}) {
		t.Errorf("ledger bound %v, want [EU]", b)
	}
}

func TestPrepareDemoDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if wiped, err := prepareDemoDir(dir); err != nil || wiped {
		t.Fatalf("new dir: wiped %v, %v", wiped, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "us-east.log"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if wiped, err := prepareDemoDir(dir); err != nil || !wiped {
		t.Fatalf("a previous demo's dir: wiped %v, %v", wiped, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "us-east.log")); err == nil {
		t.Fatal("the previous demo's files are still there")
	}

	ln, err := net.Listen("unix", demoSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	_, err = prepareDemoDir(dir)
	ln.Close()
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a running demo's dir: %v", err)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "thesis.tex"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareDemoDir(other); err == nil {
		t.Fatal("wiped a directory that is not a demo's")
	}
	if _, err := os.Stat(filepath.Join(other, "thesis.tex")); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareDemoDir("/" + strings.Repeat("d", 100)); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("a dir too long for the sockets: %v", err)
	}
}

func TestFormatDemoContexts(t *testing.T) {
	in := []demoContext{
		{Name: "us-east", Site: "/tmp/a dir/us-east.yaml", Server: "http://127.0.0.1:8080", Key: "/tmp/a dir/operator.key"},
		{Name: "eu-west", Site: "/tmp/x: y/eu-west.yaml", Key: "/tmp/#k"},
	}
	b := formatDemoContexts("# a comment", in)
	var got struct {
		CurrentContext string        `json:"current-context"`
		Contexts       []demoContext `json:"contexts"`
	}
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got.CurrentContext != "us-east" || !slices.Equal(got.Contexts, in) {
		t.Fatalf("read back %+v from\n%s", got, b)
	}
	if !strings.HasPrefix(string(b), "# a comment\ncurrent-context: us-east\ncontexts:\n- name: us-east\n  site: ") {
		t.Fatalf("order of the keys:\n%s", b)
	}
}
