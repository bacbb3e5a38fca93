package site

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/scheduler"
	"atoll/site/kube"
)

// TestJobCompletions: a divided Job's completions follow its parallelism, among sites
// then among a site's clusters, and every site's parts sum to the template's.
func TestJobCompletions(t *testing.T) {
	div := scheduler.Division{Sites: []scheduler.Share{{Name: "a", Replicas: 1}, {Name: "b", Replicas: 1}}}
	if got := jobCompletions(4, div, "a", []scheduler.Share{{Name: "c0", Replicas: 1}}); !maps.Equal(got, map[string]int{"c0": 2}) {
		t.Errorf("4 over 1:1, site a: %v, want c0:2", got)
	}
	// 10 completions over sites of 3 and 2 (6 and 4), each over its clusters.
	div = scheduler.Division{Sites: []scheduler.Share{{Name: "a", Replicas: 3}, {Name: "b", Replicas: 2}}}
	a := jobCompletions(10, div, "a", []scheduler.Share{{Name: "c0", Replicas: 2}, {Name: "c1", Replicas: 1}})
	b := jobCompletions(10, div, "b", []scheduler.Share{{Name: "c2", Replicas: 1}, {Name: "c3", Replicas: 1}, {Name: "c4", Replicas: 0}})
	if !maps.Equal(a, map[string]int{"c0": 4, "c1": 2}) || !maps.Equal(b, map[string]int{"c2": 2, "c3": 2}) {
		t.Errorf("10 over 3:2: site a %v, site b %v; want c0:4 c1:2 and c2:2 c3:2", a, b)
	}
	// A site without a share gets none.
	if got := jobCompletions(10, div, "z", nil); len(got) != 0 {
		t.Errorf("a site without a share: %v", got)
	}
}

// TestStatusOpsJobs: a Job's Status holds its ready count at every level, and its counts
// (active, succeeded, failed) only under a charter of format level 2; a DaemonSet
// reports its pods by node.
func TestStatusOpsJobs(t *testing.T) {
	s, _, _, _ := openTestSite(t)
	obj := func(manifest string) *unstructured.Unstructured {
		b, err := yaml.YAMLToJSON([]byte(manifest))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		return u
	}
	fields := func(ops []crdt.Op) map[string]string {
		out := map[string]string{}
		for _, op := range ops {
			out[op.Field] = string(op.Value)
		}
		return out
	}
	job := obj("apiVersion: batch/v1\nkind: Job\nmetadata: {name: report, namespace: shop, generation: 1}\nspec: {parallelism: 2, completions: 4}\nstatus: {active: 1, ready: 1, succeeded: 3, conditions: []}\n")
	w := kube.Workload{Namespace: "shop", Name: "report", Replicas: 2, Change: "c1", Format: 1}
	got := fields(s.statusOps(w, "k0", 1, job, nil))
	if got["desired"] != "2" || got["ready"] != "2" || got["generation"] != "c1" {
		t.Errorf("level 1: %v, want desired 2 (its parallelism), ready 2, generation c1", got)
	}
	if _, ok := got["active"]; ok {
		t.Errorf("level 1 wrote a Job's counts: %v", got)
	}
	w.Format = crdt.FormatJobs
	got = fields(s.statusOps(w, "k0", 2, job, nil))
	if got["desired"] != "2" || got["active"] != "1" || got["succeeded"] != "3" || got["failed"] != "0" {
		t.Errorf("level 2: %v, want desired 2 and the counts 1, 3, 0", got)
	}
	for _, f := range slices.Sorted(maps.Keys(got)) {
		if !crdt.IsSoft(crdt.KindStatus, f) {
			t.Errorf("field %s is not a soft status field", f)
		}
	}
	ds := obj("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: shop, generation: 2}\nstatus: {observedGeneration: 2, desiredNumberScheduled: 3, numberReady: 2, numberAvailable: 2, updatedNumberScheduled: 3}\n")
	got = fields(s.statusOps(kube.Workload{Namespace: "shop", Name: "agent", Replicas: -1, Change: "c2"}, "k0", 1, ds, nil))
	if got["desired"] != "3" || got["ready"] != "2" || got["available"] != "2" || got["updated"] != "3" || got["generation"] != "c2" {
		t.Errorf("a DaemonSet: %v, want desired 3, ready 2, available 2, updated 3, generation c2", got)
	}
}

// TestSumJobs: a Job's counts summed over its clusters, Complete when every cluster's
// completed, Failed when one failed.
func TestSumJobs(t *testing.T) {
	if sumJobs(nil) != nil {
		t.Error("no counts summed to some")
	}
	done := readJobCounts("SuccessCriteriaMet=True,Complete=True", 0, 2, 0)
	running := readJobCounts("", 1, 1, 0)
	failed := readJobCounts("FailureTarget=True,Failed=True", 0, 0, 7)
	for _, tc := range []struct {
		in   map[string]JobCounts
		want JobCounts
	}{
		{map[string]JobCounts{"a/c0": done, "b/c1": running}, JobCounts{Active: 1, Succeeded: 3}},
		{map[string]JobCounts{"a/c0": done, "b/c1": done}, JobCounts{Succeeded: 4, Finished: JobComplete}},
		{map[string]JobCounts{"a/c0": done, "b/c1": failed}, JobCounts{Succeeded: 2, Failed: 7, Finished: JobFailed}},
	} {
		if got := sumJobs(tc.in); *got != tc.want {
			t.Errorf("sumJobs(%v) = %+v, want %+v", tc.in, *got, tc.want)
		}
	}
	if !strings.Contains(failed.Finished, "Failed") {
		t.Errorf("a failed Job's counts: %+v", failed)
	}
}
