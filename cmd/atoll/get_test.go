package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/scheduler"
	"atoll/site"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testView is a federation of two sites, one cluster each, a web Deployment divided 3:1
// with one replica not ready yet, and an EU-bound ledger with a missing replica.
func testView() site.View {
	return site.View{
		Site: "s00", At: testNow,
		Sites: []site.SiteView{
			{Name: "s00", Region: "eu-west-1", Jurisdiction: "EU", Self: true, Alive: true, Live: true, Since: testNow.Add(-5 * time.Minute),
				Changes: 12, InSync: true, Clusters: 1, Desired: 3, Ready: 2},
			{Name: "s01", Region: "us-east-1", Jurisdiction: "US", Alive: true, Live: true, Since: testNow.Add(-3 * time.Hour),
				Changes: 11, Lag: 1.5, Clusters: 1, Desired: 1, Ready: 1},
		},
		Clusters: []site.ClusterView{
			{Site: "s00", Name: "c0", Healthy: true, Version: "v1.37.2", Nodes: 3, ReadyNodes: 3,
				Labels: map[string]string{"tier": "prod", "a": "b"}, Taints: []string{"gpu=true:NoSchedule"},
				Allocatable: map[string]string{"cpu": "12", "memory": "48Gi", "nvidia.com/gpu": "8", "amd.com/gpu": "2"},
				Available:   map[string]string{"cpu": "10500m", "memory": "40Gi", "nvidia.com/gpu": "3", "amd.com/gpu": "0"},
				Desired:     3, Ready: 2},
			{Site: "s01", Name: "c1", Reason: "apiserver unreachable", Nodes: 1},
		},
		Workloads: []site.WorkloadView{
			{Namespace: "shop", Name: "web", Kind: "Deployment", Allowed: []string{"s00", "s01"}, Desired: 4, Ready: 3,
				Placement: site.Placement{Workload: "shop/web", Replicas: 4, Policy: "PropagationPolicy shop/web", Sites: []site.SitePlacement{
					{Share: scheduler.Share{Name: "s00", Replicas: 3, Reason: "rule"}, Alive: true, Clusters: []site.ClusterPlacement{
						{Share: scheduler.Share{Name: "c0", Replicas: 3, Reason: "rule"}, Desired: 3, Ready: 2, Since: testNow.Add(-90 * time.Second)}}},
					{Share: scheduler.Share{Name: "s01", Replicas: 1, Reason: "rule"}, Alive: true, Clusters: []site.ClusterPlacement{
						{Share: scheduler.Share{Name: "c1", Replicas: 1, Reason: "rule"}, Desired: 1, Ready: 1}}},
				}}},
			{Namespace: "bank", Name: "ledger", Kind: "Deployment", Allowed: []string{"s00"},
				Placement: site.Placement{Workload: "bank/ledger", Replicas: 2, Bound: []string{"EU"}, Missing: 1,
					Conditions: []string{"no usable cluster in EU for 1 replica"}, Sites: []site.SitePlacement{
						{Share: scheduler.Share{Name: "s00", Replicas: 1, Reason: "rule"}, Alive: true, Clusters: []site.ClusterPlacement{
							{Share: scheduler.Share{Name: "c0", Replicas: 1, Reason: "rule"}, Desired: 1, Ready: 1}}}}}},
		},
		Events: []site.Event{{Seq: 7, Time: testNow.Add(-42 * time.Second), Kind: "placement", Object: "shop/web", Message: "shop/web on s00: 2 → 3 replicas"}},
	}
}

// get runs printGet on the test view and returns its lines.
func get(t *testing.T, o getOptions) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := printGet(&out, &errOut, testView(), o, testNow); err != nil {
		t.Fatalf("get %+v: %v", o, err)
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

func fields(line string) string { return strings.Join(strings.Fields(line), " ") }

func TestGetTables(t *testing.T) {
	for _, tc := range []struct {
		o    getOptions
		want []string // header, then rows, with runs of spaces as one
	}{
		{getOptions{Kind: "sites"}, []string{
			"NAME REGION JURISDICTION ALIVE SINCE IN-SYNC LAG CLUSTERS READY",
			"s00 eu-west-1 EU true 5m true - 1 2/3",
			"s01 us-east-1 US true 3h false 1.5s 1 1/1"}},
		{getOptions{Kind: "sites", Output: "wide", Name: "s00"}, []string{
			"NAME REGION JURISDICTION ALIVE SINCE IN-SYNC LAG CLUSTERS READY LIVE CHANGES SELF",
			"s00 eu-west-1 EU true 5m true - 1 2/3 true 12 true"}},
		{getOptions{Kind: "clusters"}, []string{
			"SITE NAME HEALTH VERSION NODES CPU READY",
			"s00 c0 Healthy v1.37.2 3/3 10500m/12 2/3",
			"s01 c1 Unhealthy - 0/1 - 0/0"}},
		{getOptions{Kind: "clusters", Output: "wide", Name: "s00/c0"}, []string{
			"SITE NAME HEALTH VERSION NODES CPU READY MEMORY EXTENDED LABELS TAINTS REASON",
			"s00 c0 Healthy v1.37.2 3/3 10500m/12 2/3 40Gi/48Gi amd.com/gpu=0/2,nvidia.com/gpu=3/8 a=b,tier=prod gpu=true:NoSchedule -"}},
		{getOptions{Kind: "clusters", Output: "wide", Name: "s01/c1"}, []string{
			"SITE NAME HEALTH VERSION NODES CPU READY MEMORY EXTENDED LABELS TAINTS REASON",
			"s01 c1 Unhealthy - 0/1 - 0/0 - - - - apiserver unreachable"}},
		{getOptions{Kind: "workloads"}, []string{
			"NAMESPACE NAME KIND MODE READY SITES BOUND",
			"shop web Deployment Divided 3/4 s00:3,s01:1 -",
			"bank ledger Deployment Divided 1/2 s00:1 EU"}},
		{getOptions{Kind: "workloads", Output: "wide", Namespace: "shop"}, []string{
			"NAMESPACE NAME KIND MODE READY SITES BOUND CLUSTERS POLICY MISSING",
			"shop web Deployment Divided 3/4 s00:3,s01:1 - s00/c0:3,s01/c1:1 PropagationPolicy shop/web 0"}},
		{getOptions{Kind: "status"}, []string{
			"WORKLOAD SITE CLUSTER DESIRED READY REASON",
			"shop/web s00 c0 3 2 rule",
			"shop/web s01 c1 1 1 rule",
			"bank/ledger s00 c0 1 1 rule",
			"bank/ledger - - 1 0 missing: no usable cluster in EU for 1 replica"}},
		{getOptions{Kind: "status", Name: "web", Output: "wide"}, []string{
			"WORKLOAD SITE CLUSTER DESIRED READY REASON APPLIED TAKEOVER HOLD SINCE",
			"shop/web s00 c0 3 2 rule 3 0 0 90s",
			"shop/web s01 c1 1 1 rule 1 0 0 -"}},
		{getOptions{Kind: "events"}, []string{
			"AGE KIND OBJECT MESSAGE",
			"42s placement shop/web shop/web on s00: 2 → 3 replicas"}},
	} {
		got := get(t, tc.o)
		if len(got) != len(tc.want) {
			t.Errorf("get %+v: %d lines, want %d:\n%s", tc.o, len(got), len(tc.want), strings.Join(got, "\n"))
			continue
		}
		for i := range got {
			if fields(got[i]) != tc.want[i] {
				t.Errorf("get %+v line %d:\n got %q\nwant %q", tc.o, i, fields(got[i]), tc.want[i])
			}
		}
	}
}

func TestGetObjects(t *testing.T) {
	var ws []site.WorkloadView
	if err := json.Unmarshal([]byte(strings.Join(get(t, getOptions{Kind: "workloads", Output: "json"}), "\n")), &ws); err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Workload != "shop/web" || ws[1].Missing != 1 {
		t.Errorf("-o json: %+v", ws)
	}
	var rows []statusRow
	if err := yaml.Unmarshal([]byte(strings.Join(get(t, getOptions{Kind: "status", Name: "bank/ledger", Output: "yaml"}), "\n")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Site != "-" || rows[1].Desired != 1 {
		t.Errorf("-o yaml: %+v", rows)
	}
	if got := get(t, getOptions{Kind: "events", Name: "nothing", Output: "json"}); strings.Join(got, "") != "[]" {
		t.Errorf("empty list as JSON: %q, want []", got)
	}
	var out, errOut bytes.Buffer
	err := printGet(&out, &errOut, testView(), getOptions{Kind: "workloads", Name: "shop/nope"}, testNow)
	if err == nil || !strings.Contains(err.Error(), `"shop/nope" not found at site s00`) {
		t.Errorf("a missing name: %v", err)
	}
	if err := (getOptions{Kind: "sites", Namespace: "shop"}).validate(); err == nil {
		t.Error("-n with sites: no error")
	}
}

// TestStatusJobCounts: a Job's counts show per cluster in `atoll get status` (a JOB
// column, only when some row has counts), and summed in describe.
func TestStatusJobCounts(t *testing.T) {
	done := &site.JobCounts{Succeeded: 2, Finished: site.JobComplete}
	w := site.WorkloadView{Namespace: "shop", Name: "report", Kind: "Job",
		Placement: site.Placement{Workload: "shop/report", Replicas: 2, Job: &site.JobCounts{Active: 1, Succeeded: 3}, Sites: []site.SitePlacement{
			{Share: scheduler.Share{Name: "s00", Replicas: 1, Reason: "rule"}, Alive: true, Clusters: []site.ClusterPlacement{
				{Share: scheduler.Share{Name: "c0", Replicas: 1, Reason: "rule"}, Desired: 1, Ready: 1, Reported: true, Job: done}}},
			{Share: scheduler.Share{Name: "s01", Replicas: 1, Reason: "rule"}, Alive: true, Clusters: []site.ClusterPlacement{
				{Share: scheduler.Share{Name: "c1", Replicas: 1, Reason: "rule"}, Desired: 1, Ready: 1, Reported: true, Job: &site.JobCounts{Active: 1, Succeeded: 1}}}},
		}}}
	var b bytes.Buffer
	if err := statusTable(statusRows([]site.WorkloadView{w}), false, testNow).write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{"WORKLOAD SITE CLUSTER DESIRED READY REASON JOB",
		"shop/report s00 c0 1 1 rule 0 active, 2 succeeded, 0 failed, Complete",
		"shop/report s01 c1 1 1 rule 1 active, 1 succeeded, 0 failed"}
	for i := range want {
		if i >= len(lines) || fields(lines[i]) != want[i] {
			t.Fatalf("status:\n%s\nwant line %d %q", b.String(), i, want[i])
		}
	}
	b.Reset()
	printPlacement(&b, w.Placement, testNow)
	if !strings.Contains(b.String(), "Job:       1 active, 3 succeeded, 0 failed") || !strings.Contains(b.String(), "job: 0 active, 2 succeeded, 0 failed, Complete") {
		t.Errorf("describe:\n%s", b.String())
	}
}
