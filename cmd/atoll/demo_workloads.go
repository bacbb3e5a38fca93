//go:build !release

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"atoll/e2e"
	demofiles "atoll/examples/demo"
	"atoll/site"
)

// demoWorkloads are the files of examples/demo in the order applied, the workload each
// holds, and the site it is applied through: a bounded workload through a site inside
// its bound.
var demoWorkloads = []struct{ file, key, via string }{
	{"web.yaml", "default/web", "us-east"},
	{"api.yaml", "default/api", "us-east"},
	{"ledger.yaml", "eu-bank/ledger", "eu-west"},
}

// demoWatcher is the site whose view of the placements the demo waits on and prints:
// eu-west, which holds every body, the bounded ledger's included.
const demoWatcher = 1

// applyWorkloads copies examples/demo into the working directory, applies each file as
// `atoll apply -f` does, and waits until every cluster runs its share ready.
func (d *demo) applyWorkloads(ctx context.Context) (string, error) {
	dir := filepath.Join(d.opts.dir, "workloads")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, w := range demoWorkloads {
		b, err := demofiles.Files.ReadFile(w.file)
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, w.file)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "", err
		}
		via := slices.IndexFunc(d.fed.Names, func(n string) bool { return n == w.via })
		apply := newApplyCmd()
		apply.SetArgs([]string{"-f", path, "--key", filepath.Join(d.opts.dir, "operator.key"), "--site", d.fed.Config(via)})
		var out bytes.Buffer
		apply.SetOut(&out)
		apply.SetErr(&out)
		apply.SilenceUsage, apply.SilenceErrors = true, true
		if err := apply.ExecuteContext(ctx); err != nil {
			return "", fmt.Errorf("atoll apply -f %s: %w\n%s", path, err, out.String())
		}
		for line := range strings.Lines(out.String()) {
			d.line("", 0, strings.TrimSpace(line)+", through "+w.via)
		}
	}
	var last string
	lastPrint := time.Now()
	err := demoPoll(ctx, func() (bool, error) {
		ps, err := d.placements(ctx)
		if err != nil {
			return false, err
		}
		var parts []string
		done := true
		for i, p := range ps {
			pr := demoProgressOf(p)
			done = done && pr.done
			_, name, _ := strings.Cut(demoWorkloads[i].key, "/")
			parts = append(parts, fmt.Sprintf("%s %d/%d", name, pr.ready, pr.want))
		}
		line := "ready replicas: " + strings.Join(parts, ", ")
		if !done && line != last && time.Since(lastPrint) >= 3*time.Second {
			d.line("", 0, line)
			last, lastPrint = line, time.Now()
		}
		if !done {
			return false, fmt.Errorf("%s", line)
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return "3 ready: every cluster of their placement runs its share", nil
}

// placements returns each demo workload's placement as the watching site computes it.
func (d *demo) placements(ctx context.Context) ([]site.Placement, error) {
	var out []site.Placement
	for _, w := range demoWorkloads {
		ns, name, _ := strings.Cut(w.key, "/")
		p, err := d.fed.Client(demoWatcher).Placement(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// demoSiteOrder is the index in demoSites of the site a "<site>-<n> ..." entry names.
func demoSiteOrder(entry string) int {
	return slices.IndexFunc(demoSites, func(s e2e.SiteSpec) bool { return strings.HasPrefix(entry, s.Name+"-") })
}

// demoProgress is how far a workload is in its clusters.
type demoProgress struct {
	ready, want int      // ready replicas, counting none above a cluster's share
	where       []string // "<cluster> <replicas>" for each cluster with a share
	done        bool     // every cluster applied its share and has it ready
}

func demoProgressOf(p site.Placement) demoProgress {
	pr := demoProgress{done: p.Error == "" && p.Missing == 0}
	for _, s := range p.Sites {
		if s.Replicas > 0 && len(s.Clusters) == 0 {
			pr.done = false
		}
		for _, c := range s.Clusters {
			if c.Replicas == 0 {
				continue
			}
			pr.want += c.Replicas
			pr.ready += min(c.Ready, c.Replicas)
			pr.where = append(pr.where, fmt.Sprintf("%s %d", c.Name, c.Replicas))
			if c.Desired != c.Replicas || c.Ready < c.Replicas {
				pr.done = false
			}
		}
	}
	pr.done = pr.done && pr.want > 0
	slices.SortStableFunc(pr.where, func(a, b string) int { return demoSiteOrder(a) - demoSiteOrder(b) })
	return pr
}
