package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"atoll/scheduler"
	"atoll/site"
)

func cluster(name string, replicas, desired, ready int) site.ClusterPlacement {
	return site.ClusterPlacement{Share: scheduler.Share{Name: name, Replicas: replicas}, Desired: desired, Ready: ready}
}

func workload(key string, replicas int, p ...site.SitePlacement) site.WorkloadView {
	ns, name, _ := strings.Cut(key, "/")
	return site.WorkloadView{Namespace: ns, Name: name, Placement: site.Placement{Workload: key, Replicas: replicas, Sites: p}}
}

func share(name string, replicas int, cs ...site.ClusterPlacement) site.SitePlacement {
	return site.SitePlacement{Share: scheduler.Share{Name: name, Replicas: replicas}, Alive: true, Clusters: cs}
}

func TestRolloutReady(t *testing.T) {
	dup := workload("shop/cache", 2, share("s00", 2, cluster("c0", 2, 2, 2), cluster("c1", 2, 2, 2)), share("s01", 2, cluster("c2", 2, 2, 1)))
	dup.Duplicated = true
	cm := workload("shop/configmap.settings", -1, share("s00", 1, cluster("c0", 1, 1, 1)), share("s01", 1, cluster("c2", 1, 1, 1)))
	cm.Duplicated = true
	bounded := workload("bank/ledger", 2)
	bounded.Missing, bounded.Conditions = 2, []string{"no usable cluster in the bound"}
	nowhere := workload("shop/lonely", -1)
	nowhere.Duplicated = true
	// A DaemonSet reports its pods by node: 3 in c0, none in c1 (no eligible node).
	reported := func(c site.ClusterPlacement) site.ClusterPlacement { c.Reported = true; return c }
	ds := workload("shop/daemonset.agent", -1, share("s00", 1, reported(cluster("c0", 1, 3, 3)), reported(cluster("c1", 1, 0, 0))))
	ds.Duplicated = true
	dsRolling := workload("shop/daemonset.agent", -1, share("s00", 1, reported(cluster("c0", 1, 3, 2)), cluster("c1", 1, 0, 0)))
	dsRolling.Duplicated = true
	broken := workload("shop/broken", 1)
	broken.Error = "bad placement JSON"
	for _, tc := range []struct {
		name    string
		w       site.WorkloadView
		ready   bool
		summary string
		pending string // a part of the pending text
	}{
		{"divided, all ready", workload("shop/web", 4, share("s00", 3, cluster("c0", 3, 3, 3)), share("s01", 1, cluster("c1", 1, 1, 1))), true, "4/4 ready", ""},
		{"not applied yet", workload("shop/web", 1, share("s00", 1, cluster("c0", 1, 0, 0))), false, "0/1 ready", "s00/c0 0/1 ready (not applied yet)"},
		{"divided, one not ready", workload("shop/web", 4, share("s00", 3, cluster("c0", 3, 3, 2)), share("s01", 1, cluster("c1", 1, 1, 1))), false, "3/4 ready", "s00/c0 2/3 ready"},
		{"scaled, old status", workload("shop/web", 4, share("s00", 4, cluster("c0", 4, 3, 3))), false, "3/4 ready", "s00/c0 3/4 ready (applied 3)"},
		{"duplicated: every cluster runs all", dup, false, "5/6 ready", "s01/c2 1/2"},
		{"no replicas: one per cluster", cm, true, "2/2 ready", ""},
		{"a DaemonSet: its pods by node", ds, true, "3/3 ready", ""},
		{"a DaemonSet rolling out", dsRolling, false, "2/4 ready", "s00/c0 2/3 ready, s00/c1 0/1 ready (not applied yet)"},
		{"bounded to nowhere", bounded, false, "0/2 ready", "2 replicas missing (no usable cluster in the bound)"},
		{"placed nowhere", nowhere, false, "placed in no cluster", "placed in no cluster"},
		{"share with no cluster", workload("shop/web", 1, share("s01", 1)), false, "placed in no cluster", "s01: 1 replica and no cluster"},
		{"nothing to run", workload("shop/idle", 0), true, "nothing to run", ""},
		{"cannot be scheduled", broken, false, "cannot be scheduled", "bad placement JSON"},
	} {
		v := site.View{Site: "s00", Workloads: []site.WorkloadView{tc.w}}
		p := rolloutProgress(v, tc.w.Namespace+"/"+tc.w.Name)
		if p.Done != tc.ready || p.Summary != tc.summary || !strings.Contains(strings.Join(p.Pending, ", "), tc.pending) {
			t.Errorf("%s: done %v, summary %q, pending %q; want %v, %q, containing %q", tc.name, p.Done, p.Summary, p.Pending, tc.ready, tc.summary, tc.pending)
		}
	}
	if p := rolloutProgress(site.View{Site: "s02"}, "shop/web"); p.Done || !strings.Contains(p.Summary, "not in the view of s02") {
		t.Errorf("absent workload: %+v", p)
	}
}

func TestRemovalDone(t *testing.T) {
	v := site.View{Site: "s00", Workloads: []site.WorkloadView{workload("shop/web", 1)}}
	if p := removalProgress(v, "shop/web", nil); p.Done || !strings.Contains(p.Pending[0], "still in the view") {
		t.Errorf("still in the view: %+v", p)
	}
	if p := removalProgress(site.View{}, "shop/web", []string{"s01/c1 1/1"}); p.Done || p.Pending[0] != "status remains at s01/c1 1/1" {
		t.Errorf("status remains: %+v", p)
	}
	if p := removalProgress(site.View{}, "shop/web", nil); !p.Done || p.Summary != "deleted" {
		t.Errorf("gone: %+v", p)
	}
}

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	pp := &progressPrinter{out: &b, last: map[string]string{}}
	p := progress{Key: "shop/web", Summary: "1/2 ready", Clusters: []string{"s00/c0 1/2"}}
	pp.draw([]progress{p})
	pp.draw([]progress{p}) // unchanged: nothing printed
	p.Summary, p.Clusters, p.Done = "2/2 ready", []string{"s00/c0 2/2"}, true
	pp.draw([]progress{p})
	if got := b.String(); got != "shop/web: 1/2 ready; s00/c0 1/2\nshop/web: 2/2 ready; s00/c0 2/2\n" {
		t.Errorf("not a terminal: %q", got)
	}
	b.Reset()
	pp = &progressPrinter{out: &b, tty: true}
	pp.draw([]progress{p})
	pp.draw([]progress{p})
	if got := b.String(); strings.Count(got, "\x1b[2A\x1b[J") != 1 || strings.Count(got, "✓ shop/web: 2/2 ready\n    s00/c0 2/2\n") != 2 {
		t.Errorf("terminal: %q; want the block redrawn in place once", got)
	}
}

// views answers --wait's reads from a list of views, the last one repeated.
type views struct {
	seq  []site.View
	held bool
}

func (f *views) View(context.Context) (site.View, error) {
	v := f.seq[0]
	if len(f.seq) > 1 {
		f.seq = f.seq[1:]
	}
	return v, nil
}

func (f *views) Held(context.Context, string, time.Duration) (site.Held, error) {
	return site.Held{Held: f.held, Bodies: f.held}, nil
}

func (f *views) Object(context.Context, string, string) (map[string]site.ObjectField, error) {
	return nil, nil
}

func TestWaitDone(t *testing.T) {
	notReady := site.View{Site: "s00", Workloads: []site.WorkloadView{workload("shop/web", 2, share("s00", 2, cluster("c0", 2, 2, 1)))}}
	ready := site.View{Site: "s00", Workloads: []site.WorkloadView{workload("shop/web", 2, share("s00", 2, cluster("c0", 2, 2, 2)))}}
	var b bytes.Buffer
	pp := newProgressPrinter(&b)
	spec := waitSpec{Changes: []string{"ab"}, Keys: []string{"shop/web"}, Timeout: time.Minute}
	if err := waitDone(t.Context(), &views{seq: []site.View{notReady, ready}, held: true}, spec, pp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1/2 ready") || !strings.Contains(b.String(), "2/2 ready") {
		t.Errorf("progress: %q", b.String())
	}

	spec.Timeout = time.Second
	err := waitDone(t.Context(), &views{seq: []site.View{notReady}, held: true}, spec, newProgressPrinter(&b))
	var e *exitError
	if !errors.As(err, &e) || e.code != 1 || !strings.Contains(err.Error(), "shop/web: s00/c0 1/2 ready") {
		t.Errorf("timeout: %v; want exit status 1 naming the cluster that is not ready", err)
	}
	err = waitDone(t.Context(), &views{seq: []site.View{ready}}, spec, newProgressPrinter(&b))
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "hold change ab") {
		t.Errorf("change never held: %v", err)
	}
}
