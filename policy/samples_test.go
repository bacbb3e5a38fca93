package policy

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"atoll/scheduler"
)

// Karmada's own samples (testdata/karmada/README.md), applied unchanged.

func TestKarmadaNginxSample(t *testing.T) {
	ws, notes := loadOK(t, "testdata/karmada/nginx")
	if len(ws) != 1 || len(notes) != 0 {
		t.Fatalf("%d workloads, notes %q", len(ws), notes)
	}
	w := ws[0]
	if w.Namespace != "default" || w.Name != "nginx" || w.Replicas != 2 || w.Source != "testdata/karmada/nginx/deployment.yaml:1" {
		t.Errorf("workload %+v", w)
	}
	want := scheduler.Policy{
		Placement: scheduler.Placement{
			ClusterAffinity: &scheduler.ClusterAffinity{ClusterNames: []string{"member1", "member2"}},
			ReplicaScheduling: &scheduler.ReplicaScheduling{
				ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted,
				WeightPreference: &scheduler.WeightPreference{StaticWeightList: []scheduler.StaticWeight{
					{TargetCluster: scheduler.ClusterAffinity{ClusterNames: []string{"member1"}}, Weight: 1},
					{TargetCluster: scheduler.ClusterAffinity{ClusterNames: []string{"member2"}}, Weight: 1},
				}},
			},
		},
		Source: "PropagationPolicy default/nginx-propagation",
	}
	if !reflect.DeepEqual(w.Policy, want) {
		t.Errorf("policy\n%+v\nwant\n%+v", w.Policy, want)
	}
	m2 := render(t, w, member("member2", nil))
	if got := field(t, m2, "metadata", "labels"); got != `{"app":"nginx","env":"skoala-dev","env-stat":"skoala-stage"}` {
		t.Errorf("member2 labels %s", got)
	}
	if got := field(t, m2, "metadata", "annotations"); got != "<none>" {
		t.Errorf("member2 annotations %s", got)
	}
	m1 := render(t, w, member("member1", nil))
	if got := field(t, m1, "metadata", "annotations"); got != `{"env":"skoala-stage"}` {
		t.Errorf("member1 annotations %s", got)
	}
	if got := field(t, m1, "metadata", "labels"); got != `{"app":"nginx"}` {
		t.Errorf("member1 labels %s", got)
	}
	m3 := render(t, w, member("member3", nil))
	var tmpl map[string]any
	if err := json.Unmarshal(w.Template, &tmpl); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(m3.Object); string(b) != string(w.Template) {
		t.Errorf("member3 should get the template unchanged:\n%s\n%s", b, w.Template)
	}
}

func TestKarmadaGuestbookSample(t *testing.T) {
	dir := "testdata/karmada/guestbook"
	ws, _ := loadOK(t, filepath.Join(dir, "guestbook.yaml"), filepath.Join(dir, "guestbooks-propagationpolicy.yaml"), filepath.Join(dir, "guestbooks-overridepolicy.yaml"))
	w := find(t, ws, "guestbook-sample")
	if w.Kind != "Guestbook" || w.Replicas != -1 || w.Policy.Source != "PropagationPolicy default/example-policy" ||
		w.Policy.ReplicaScheduling.ReplicaSchedulingType != scheduler.Duplicated {
		t.Errorf("workload %+v", w)
	}
	m1 := render(t, w, member("member1", nil))
	if got := field(t, m1, "spec", "size"); got != "4" {
		t.Errorf("member1 size %s", got)
	}
	if got := field(t, m1, "metadata", "annotations"); got != `{"OverridePolicy":"test"}` {
		t.Errorf("member1 annotations %s", got)
	}
	if got := field(t, render(t, w, member("member2", nil)), "spec", "size"); got != "2" {
		t.Errorf("member2 size %s", got)
	}
}

func TestKarmadaPropagationDocs(t *testing.T) {
	nginx := "testdata/karmada/nginx/deployment.yaml"
	names := func(ns ...string) *scheduler.ClusterAffinity { return &scheduler.ClusterAffinity{ClusterNames: ns} }
	dup := &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}
	for _, tc := range []struct {
		file string
		want scheduler.Placement // compared with the policy's placement
		from string              // its source, when several policies are in the file
	}{
		{"all-deployments", scheduler.Placement{ClusterAffinity: names("member1", "member2"), ReplicaScheduling: dup}, ""},
		{"label-match", scheduler.Placement{ClusterAffinity: names("member1"), ReplicaScheduling: dup}, ""},
		{"exclude", scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{ExcludeClusters: []string{"member1", "member3"}}, ReplicaScheduling: dup}, ""},
		{"field-selector", scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{FieldSelector: &scheduler.FieldSelector{MatchExpressions: []scheduler.Requirement{
			{Key: "provider", Operator: "In", Values: []string{"aws"}}, {Key: "region", Operator: "NotIn", Values: []string{"us-west-1"}}}}}, ReplicaScheduling: dup}, ""},
		{"cluster-affinities", scheduler.Placement{ClusterAffinities: []scheduler.ClusterAffinityTerm{
			{AffinityName: "primary-clusters", ClusterAffinity: *names("member1", "member2")},
			{AffinityName: "backup-clusters", ClusterAffinity: *names("member3", "member4")}}, ReplicaScheduling: dup}, ""},
		{"tolerations", scheduler.Placement{ClusterTolerations: []scheduler.Toleration{{Key: "dedicated", Value: "special-user", Effect: scheduler.NoSchedule}}, ReplicaScheduling: dup}, ""},
		{"spread", scheduler.Placement{SpreadConstraints: []scheduler.SpreadConstraint{{SpreadByField: "region", MaxGroups: 2, MinGroups: 2}, {SpreadByField: "cluster", MaxGroups: 2, MinGroups: 2}}, ReplicaScheduling: dup}, ""},
		{"aggregated", scheduler.Placement{ClusterAffinity: names("member1", "member2"), ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Aggregated}}, ""},
		{"static-weight", scheduler.Placement{ClusterAffinity: names("member1", "member2"),
			SpreadConstraints: []scheduler.SpreadConstraint{{SpreadByField: "cluster", MaxGroups: 2, MinGroups: 2}},
			ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted,
				WeightPreference: &scheduler.WeightPreference{StaticWeightList: []scheduler.StaticWeight{{TargetCluster: *names("member1"), Weight: 1}, {TargetCluster: *names("member2"), Weight: 2}}}}}, ""},
		{"dynamic-weight", scheduler.Placement{ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted,
			WeightPreference: &scheduler.WeightPreference{DynamicWeight: scheduler.AvailableReplicas}}}, ""},
		{"priority-explicit", scheduler.Placement{ClusterAffinity: names("member1"), ReplicaScheduling: dup}, "PropagationPolicy default/high-priority-policy"},
		{"priority-implicit", scheduler.Placement{ClusterAffinity: names("member1"), ReplicaScheduling: dup}, "PropagationPolicy default/name-match"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ws, notes := loadOK(t, nginx, "testdata/karmada/propagation/"+tc.file+".yaml")
			w := find(t, ws, "nginx")
			if !reflect.DeepEqual(w.Policy.Placement, tc.want) {
				got, _ := json.Marshal(w.Policy.Placement)
				want, _ := json.Marshal(tc.want)
				t.Errorf("placement\n%s\nwant\n%s", got, want)
			}
			if tc.from != "" {
				if w.Policy.Source != tc.from {
					t.Errorf("placed by %q, want %q", w.Policy.Source, tc.from)
				}
				if len(notes) != 1 || !strings.Contains(notes[0], "is not used: "+tc.from+" takes precedence") {
					t.Errorf("notes %q", notes)
				}
			}
		})
	}
}

func TestKarmadaPropagationDocsRefused(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"propagate-deps-unsupported", "propagate-deps-unsupported.yaml:12: PropagationPolicy default/nginx-propagation: spec.propagateDeps: not supported by Atoll"},
		{"preemption-unsupported", "preemption-unsupported.yaml:11: PropagationPolicy default/high-priority-policy: spec.preemption: not supported by Atoll"},
		{"dependent-overrides-unsupported", "dependent-overrides-unsupported.yaml:10: PropagationPolicy default/nginx-propagation: spec.dependentOverrides: not supported by Atoll"},
		{"scheduler-name-unsupported", "scheduler-name-unsupported.yaml:9: PropagationPolicy default/custom-scheduler-policy: spec.schedulerName: not supported by Atoll"},
		{"conflict-resolution-unsupported", "conflict-resolution-unsupported.yaml:10: PropagationPolicy default/nginx-propagation: spec.conflictResolution: not supported by Atoll"},
		{"activation-lazy-unsupported", "activation-lazy-unsupported.yaml:10: PropagationPolicy default/nginx-propagation: spec.activationPreference: not supported by Atoll"},
		{"suspension-unsupported", "suspension-unsupported.yaml:14: PropagationPolicy default/nginx-propagation: spec.suspension: not supported by Atoll"},
		{"preserve-unsupported", "preserve-unsupported.yaml:9: PropagationPolicy default/nginx-propagation: spec.preserveResourcesOnDeletion: not supported by Atoll"},
		{"schedule-priority-unsupported", "schedule-priority-unsupported.yaml:9: PropagationPolicy default/high-priority-workload: spec.schedulePriority: not supported by Atoll"},
		// The page's "Resume propagation" example mis-indents clusterAffinity under spec.
		{"resume-typo", `resume-typo.yaml:10: PropagationPolicy default/nginx-propagation: unknown field "spec.clusterAffinity"`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			objs, err := Load([]string{"testdata/karmada/nginx/deployment.yaml", "testdata/karmada/propagation/" + tc.file + ".yaml"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Resolve(objs)
			if err == nil || err.Error() != "testdata/karmada/propagation/"+tc.want {
				t.Errorf("got  %v\nwant testdata/karmada/propagation/%s", err, tc.want)
			}
		})
	}
}

func TestKarmadaOverrideDocs(t *testing.T) {
	containers := []string{"spec", "template", "spec", "containers"}
	for _, tc := range []struct {
		file, name string
		path       []string
		want       string
	}{
		{"image-registry-add", "myapp", containers, `[{"image":"test-repo/myapp:1.0.0","name":"myapp"}]`},
		{"image-repository-replace", "myapp", containers, `[{"image":"myapp2:1.0.0","name":"myapp"}]`},
		{"image-tag-remove", "myapp", containers, `[{"image":"myapp","name":"myapp"}]`},
		{"command-add", "myapp", containers, `[{"command":["./myapp","--parameter1=foo","--parameter2=bar","--cluster=member1"],"image":"myapp","name":"myapp"}]`},
		{"command-remove", "myapp", containers, `[{"command":["./myapp","--parameter2=bar"],"image":"myapp","name":"myapp"}]`},
		{"plaintext-configmap", "myconfigmap", []string{"data"}, `{"example":2}`},
		{"resource-selector", "nginx", containers, `[{"image":"test-repo/nginx","name":"nginx"}]`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ws, _ := loadOK(t, "testdata/karmada/override/"+tc.file+".yaml")
			u := render(t, find(t, ws, tc.name), member("member1", nil))
			if got := field(t, u, tc.path...); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	_, notes := loadOK(t, "testdata/karmada/override/resource-selector.yaml")
	if len(notes) != 1 || !strings.Contains(notes[0], "resourceSelectors[0]: labelSelector is ignored since name is set (as in Karmada)") {
		t.Errorf("notes %q", notes)
	}
}
