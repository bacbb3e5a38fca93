package site

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/scheduler"
)

// withStatus gives w its status as workloadsLocked reads it: with its digest.
func withStatus(w workload, status map[string]scheduler.Observed) workload {
	var o *observed
	for at, r := range status {
		if o == nil {
			o = newObserved()
		}
		o.add(at, r)
	}
	w.sched.Status, w.digest = o.reports()
	return w
}

// TestVersionsFollowInputs: a pass through a cache gives a workload the version it had
// in the previous pass when, and only when, nothing the scheduler reads of it changed:
// a workload changed under its old version (what scheduler.Workload.Version forbids)
// never reaches the Replanner. Each pass builds the workload afresh, as workloadsLocked
// does.
func TestVersionsFollowInputs(t *testing.T) {
	st := &scheduler.State{
		Sites:    []scheduler.Site{{Name: "eu", Jurisdiction: "EU", Alive: true}, {Name: "us", Jurisdiction: "US", Alive: true}},
		Clusters: []scheduler.Cluster{{Site: "eu", Name: "e1", Jurisdiction: "EU", Healthy: true}, {Site: "us", Name: "u1", Jurisdiction: "US", Healthy: true}},
	}
	t1 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	base := func() (scheduler.Workload, map[string]scheduler.Observed) {
		var pol scheduler.Policy // decoded afresh, as the site's policies are
		if err := json.Unmarshal([]byte(`{"clusterAffinity":{"labelSelector":{"matchLabels":{"tier":"1"}}},"maxSurge":"1"}`), &pol); err != nil {
			t.Fatal(err)
		}
		return scheduler.Workload{Key: "shop/web", Replicas: 4, Bound: []string{"EU", "US"}, Policy: pol, Request: scheduler.Resources{"cpu": 100}},
			map[string]scheduler.Observed{"eu/e1": {Desired: 2, Ready: 2}, "us/u1": {Desired: 2, Ready: 1, UnhealthySince: t1}}
	}
	changes := []struct {
		what   string
		change func(w *scheduler.Workload, status map[string]scheduler.Observed)
	}{
		{"nothing", func(*scheduler.Workload, map[string]scheduler.Observed) {}},
		{"an instant in another location", func(_ *scheduler.Workload, s map[string]scheduler.Observed) {
			o := s["us/u1"]
			o.UnhealthySince = t1.In(time.FixedZone("CET", 3600))
			s["us/u1"] = o
		}},
		{"replicas", func(w *scheduler.Workload, _ map[string]scheduler.Observed) { w.Replicas = 5 }},
		{"bound", func(w *scheduler.Workload, _ map[string]scheduler.Observed) { w.Bound = []string{"EU", "CH"} }},
		{"request", func(w *scheduler.Workload, _ map[string]scheduler.Observed) { w.Request["cpu"] = 200 }},
		{"a label the policy selects", func(w *scheduler.Workload, _ map[string]scheduler.Observed) {
			w.Policy.ClusterAffinity.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "2"}}
		}},
		{"the policy's maxSurge", func(w *scheduler.Workload, _ map[string]scheduler.Observed) { w.Policy.MaxSurge = "2" }},
		{"ready replicas", func(_ *scheduler.Workload, s map[string]scheduler.Observed) {
			s["eu/e1"] = scheduler.Observed{Desired: 2, Ready: 1}
		}},
		{"an instant", func(_ *scheduler.Workload, s map[string]scheduler.Observed) {
			o := s["us/u1"]
			o.UnhealthySince = t1.Add(time.Nanosecond)
			s["us/u1"] = o
		}},
		{"an eviction", func(_ *scheduler.Workload, s map[string]scheduler.Observed) {
			o := s["us/u1"]
			o.EvictedAt = t1
			s["us/u1"] = o
		}},
		{"a report added", func(_ *scheduler.Workload, s map[string]scheduler.Observed) { s["eu/e2"] = scheduler.Observed{} }},
		{"a report gone", func(_ *scheduler.Workload, s map[string]scheduler.Observed) { delete(s, "us/u1") }},
		{"every report gone", func(_ *scheduler.Workload, s map[string]scheduler.Observed) { clear(s) }},
		{"reports swapped between clusters", func(_ *scheduler.Workload, s map[string]scheduler.Observed) {
			s["eu/e1"], s["us/u1"] = s["us/u1"], s["eu/e1"]
		}},
	}
	for _, c := range changes {
		var cache passCache
		pass := func(change bool) uint64 {
			w, status := base()
			if change {
				c.change(&w, status)
			}
			ws := []workload{withStatus(workload{sched: w}, status)}
			if _, err := planPass(t.Context(), st, ws, "eu", false, &cache); err != nil {
				t.Fatal(err)
			}
			return ws[0].sched.Version
		}
		v1, v2, v3 := pass(false), pass(false), pass(true)
		if v1 == 0 || v2 != v1 {
			t.Fatalf("%s: versions %d then %d of the same workload", c.what, v1, v2)
		}
		if same := c.what == "nothing" || c.what == "an instant in another location"; (v3 == v2) != same {
			t.Errorf("%s changed: version %d after %d", c.what, v3, v2)
		}
	}

	// A workload built without the digest of its status is new in every pass.
	var cache passCache
	var seen []uint64
	for range 3 {
		w, status := base()
		ws := []workload{{sched: w}}
		ws[0].sched.Status = status
		if _, err := planPass(t.Context(), st, ws, "eu", false, &cache); err != nil {
			t.Fatal(err)
		}
		if v := ws[0].sched.Version; v == 0 || slices.Contains(seen, v) {
			t.Fatalf("versions %v, then %d, without a digest", seen, v)
		}
		seen = append(seen, ws[0].sched.Version)
	}
}

// versionOf compares every field of a workload the scheduler reads, and observed's
// digest every field of a report: a field added to either fails here until it is.
func TestVersionsCoverWorkload(t *testing.T) {
	fields := func(v any) []string {
		typ := reflect.TypeOf(v)
		var out []string
		for i := range typ.NumField() {
			out = append(out, typ.Field(i).Name)
		}
		return out
	}
	if got, want := fields(scheduler.Workload{}), []string{"Key", "Replicas", "Bound", "Policy", "Request", "Status", "Version"}; !slices.Equal(got, want) {
		t.Errorf("scheduler.Workload has fields %v; versionOf compares %v", got, want)
	}
	if got, want := fields(scheduler.Observed{}), []string{"Desired", "Ready", "UnhealthySince", "EvictedAt"}; !slices.Equal(got, want) {
		t.Errorf("scheduler.Observed has fields %v; observed.add hashes %v", got, want)
	}
	// The digest does not depend on the order of the reports.
	a, b := newObserved(), newObserved()
	reports := map[string]scheduler.Observed{"eu/e1": {Desired: 1}, "us/u1": {Ready: 1}, "us/u2": {Desired: 3, Ready: 2}}
	keys := slices.Sorted(maps.Keys(reports))
	for i := range keys {
		a.add(keys[i], reports[keys[i]])
		b.add(keys[len(keys)-1-i], reports[keys[len(keys)-1-i]])
	}
	if a.digest != b.digest {
		t.Error("the digest depends on the order of the reports")
	}
}

// BenchmarkVersions is what versioning adds to a site's pass over 10,000 workloads with
// 40 reports each: reading the reports into maps (map, as before versions) against
// reading them with their digests (observed), and versioning the workloads (versionOf,
// each policy decoded afresh as in every pass).
func BenchmarkVersions(b *testing.B) {
	type report struct {
		wk, at string
		o      scheduler.Observed
	}
	var reports []report
	ws := make([]workload, 10_000)
	for i := range ws {
		key := "ns/w" + strconv.Itoa(i)
		var pol scheduler.Policy
		sites := fmt.Sprintf(`["s%d","s%d"]`, i%100, (i+1)%100)
		if err := json.Unmarshal([]byte(`{"clusterAffinity":{"fieldSelector":{"matchExpressions":[{"key":"site","operator":"In","values":`+sites+`}]}}}`), &pol); err != nil {
			b.Fatal(err)
		}
		ws[i].sched = scheduler.Workload{Key: key, Replicas: 3, Policy: pol, Request: scheduler.Resources{"cpu": 250}}
		for j := range 40 {
			reports = append(reports, report{key, fmt.Sprintf("s%03d/c%d", (i+j)%100, j%10), scheduler.Observed{Desired: 1, Ready: 1}})
		}
	}
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			status := map[string]map[string]scheduler.Observed{}
			for _, r := range reports {
				if status[r.wk] == nil {
					status[r.wk] = map[string]scheduler.Observed{}
				}
				status[r.wk][r.at] = r.o
			}
		}
	})
	b.Run("observed", func(b *testing.B) {
		for b.Loop() {
			status := map[string]*observed{}
			for _, r := range reports {
				rs := status[r.wk]
				if rs == nil {
					rs = newObserved()
					status[r.wk] = rs
				}
				rs.add(r.at, r.o)
			}
		}
	})
	b.Run("versionOf", func(b *testing.B) {
		var c passCache
		fresh := slices.Clone(ws)
		for i := range fresh {
			fresh[i].digest = 1
			p := &fresh[i].sched.Policy
			a := *p.ClusterAffinity
			p.ClusterAffinity = &a // another copy of the same policy
		}
		c.plan(&scheduler.State{}, ws, "", false)
		for b.Loop() {
			for i := range fresh {
				if c.versionOf(&fresh[i]).n != 1 {
					b.Fatal("a new version of the same workload")
				}
			}
		}
	})
}
