//go:build !release

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/deploy/testenv"
)

// printTour prints the ready line, where each workload runs, the dashboards, the files
// and commands to try from another terminal.
func (d *demo) printTour() {
	w := d.out
	var total time.Duration
	var phases []string
	for _, p := range d.phases {
		total += p.took
		phases = append(phases, fmt.Sprintf("%s %s", p.name, p.took.Round(100*time.Millisecond)))
	}
	fmt.Fprintf(w, "\nReady in %s (%s).\n", total.Round(100*time.Millisecond), strings.Join(phases, ", "))

	dir, cli := d.opts.dir, demoCLI(d.self)
	cfg := func(site string) string { return filepath.Join(dir, site+".yaml") }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ps, err := d.placements(ctx); err == nil {
		fmt.Fprintf(w, "\nWhere the workloads run (replicas by cluster), as %s sees it:\n", d.fed.Names[demoWatcher])
		notes := []string{"Duplicated on the tier=prod clusters", "Divided by site weights 2:1:1", "bound to the EU"}
		for i, p := range ps {
			fmt.Fprintf(w, "  %-15s %s  (%s)\n", p.Workload, strings.Join(demoProgressOf(p).where, ", "), notes[i])
		}
	}

	fmt.Fprintln(w, "\nDashboards:")
	fmt.Fprintf(w, "  %-9s %s/   the global view of a read-only observer (atoll observe)\n", "observer", d.observer)
	for i, name := range d.fed.Names {
		fmt.Fprintf(w, "  %-9s %s/   as %s sees it: bounded bodies outside its jurisdiction are redacted\n", name, d.fed.URL(i), name)
	}
	if tok, err := d.fed.Token("dashboard", 24*time.Hour); err == nil {
		path := filepath.Join(dir, "dashboard.token")
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err == nil {
			fmt.Fprintf(w, "  Sign in with the dashboard observer's token, valid 24h (also in %s; make another with\n  %s token --key %s --audience %s):\n  %s\n",
				path, cli, d.fed.KeyFile("dashboard"), d.fed.Federation(), tok)
		}
	}

	fmt.Fprintf(w, "\nFiles, in %s (removed on exit unless --keep; the next demo wipes them):\n", dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range [][2]string{
		{"us-east.yaml, eu-west.yaml, ap-south.yaml", "site configs; each site's log beside it (us-east.log, ...), data in data/<site>/"},
		{"genesis.atoll, *.key", "the signed charter; keys of the sites, admin, operator and dashboard (an observer)"},
		{"clusters/<cluster>/admin.kubeconfig", "the member clusters us-east-1 ... ap-south-2; their components' logs beside"},
		{"workloads/", "the applied manifests and policies (examples/demo/ in the repository)"},
		{"atoll.config", "the CLI's contexts, one per site"},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", l[0], l[1])
	}
	tw.Flush()

	kubectl := "kubectl"
	if bin, err := testenv.BinDir(); err == nil {
		kubectl = filepath.Join(bin, "kubectl")
	}
	dirFlag := ""
	if dir != defaultDemoDir() {
		dirFlag = " --dir " + dir
	}
	fmt.Fprintln(w, "\nTry, in another terminal:")
	for _, l := range [][2]string{
		{"", "export ATOLLCONFIG=" + demoContextFile(dir)},
		{"every workload and where it runs", cli + " get workloads"},
		{"per site and cluster: replicas, ready, why and since when", cli + " describe workload default/api --site " + cfg("us-east")},
		{"a site's clusters: health, nodes, capacity", cli + " cluster list --site " + cfg("eu-west")},
		{"what Atoll applied in one member cluster", kubectl + " --kubeconfig " + filepath.Join(dir, "clusters", "eu-west-1", "admin.kubeconfig") + " get deploy -A"},
		{"the federation through us-east's Kubernetes API: every template, with its status across the clusters", kubectl + " --kubeconfig " + d.kubeAPIConfig() + " get deploy,propagationpolicies -A"},
		{"apply with kubectl, as to Karmada's API server (the repository's examples/kubectl/hello.yaml)", kubectl + " --kubeconfig " + d.kubeAPIConfig() + " apply -f examples/kubectl/hello.yaml && " +
			kubectl + " --kubeconfig " + d.kubeAPIConfig() + " rollout status deployment/hello -n hello"},
		{"us-east holds the EU-bound ledger with its body redacted", "curl -s --unix-socket " + filepath.Join(dir, "data", "us-east", "atoll.sock") + " http://site/v1/objects/workload/eu-bank/ledger"},
		{"kill a site: eu-west and ap-south take over its share of api (watch the dashboards, or describe)", cli + " demo kill us-east" + dirFlag},
		{"bring it back: it takes its share back once its replicas are ready", cli + " demo start us-east" + dirFlag},
		{"cut eu-west off: the others take over its api replicas, but not ledger, bound to the EU; then heal", cli + " demo partition eu-west" + dirFlag + "; " + cli + " demo heal" + dirFlag},
		{"where bounded bodies were sent and where workloads ran", cli + " audit residency --site " + cfg("us-east") + " --site " + cfg("eu-west") + " --site " + cfg("ap-south")},
	} {
		if l[0] != "" {
			fmt.Fprintf(w, "  # %s\n", l[0])
		}
		fmt.Fprintf(w, "  %s\n", l[1])
	}
	fmt.Fprintln(w, "\nCtrl-C stops everything.")
}

// demoCLI is how to call this binary from a shell: atoll if that is what PATH finds.
func demoCLI(self string) string {
	if p, err := exec.LookPath("atoll"); err == nil {
		if a, err := filepath.EvalSymlinks(p); err == nil {
			if b, err := filepath.EvalSymlinks(self); err == nil && a == b {
				return "atoll"
			}
		}
	}
	return self
}
