package policy

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/scheduler"
)

// Atoll's fixtures for Karmada's policy fields (testdata/fields/README.md).

const fields = "testdata/fields"

func TestStorefrontApp(t *testing.T) {
	ws, notes := loadOK(t, fields+"/apps/storefront")
	if len(ws) != 1 || len(notes) != 0 {
		t.Fatalf("%d workloads, notes %q", len(ws), notes)
	}
	w := ws[0]
	if w.Namespace != "retail" || w.Name != "storefront" || w.Replicas != 4 || w.Source != fields+"/apps/storefront/deployment.yaml:1" {
		t.Errorf("workload %+v", w)
	}
	want := scheduler.Policy{
		Placement: scheduler.Placement{
			ClusterAffinity: &scheduler.ClusterAffinity{ClusterNames: []string{"alpha", "bravo"}},
			ReplicaScheduling: &scheduler.ReplicaScheduling{
				ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted,
				WeightPreference: &scheduler.WeightPreference{StaticWeightList: []scheduler.StaticWeight{
					{TargetCluster: scheduler.ClusterAffinity{ClusterNames: []string{"alpha"}}, Weight: 3},
					{TargetCluster: scheduler.ClusterAffinity{ClusterNames: []string{"bravo"}}, Weight: 1},
				}},
			},
		},
		Source: "PropagationPolicy retail/storefront-placement",
	}
	if !reflect.DeepEqual(w.Policy, want) {
		t.Errorf("policy\n%+v\nwant\n%+v", w.Policy, want)
	}
	// bravo: add sets, replace changes only the label present (release), remove of an
	// absent label does nothing.
	bravo := render(t, w, member("bravo", nil))
	if got := field(t, bravo, "metadata", "labels"); got != `{"app":"storefront","channel":"online","release":"canary","tier":"web"}` {
		t.Errorf("bravo labels %s", got)
	}
	if got := field(t, bravo, "metadata", "annotations"); got != "<none>" {
		t.Errorf("bravo annotations %s", got)
	}
	alpha := render(t, w, member("alpha", nil))
	if got := field(t, alpha, "metadata", "annotations"); got != `{"owner":"retail-web"}` {
		t.Errorf("alpha annotations %s", got)
	}
	if got := field(t, alpha, "metadata", "labels"); got != `{"app":"storefront","release":"stable"}` {
		t.Errorf("alpha labels %s", got)
	}
	charlie := render(t, w, member("charlie", nil))
	if b, _ := json.Marshal(charlie.Object); string(b) != string(w.Template) {
		t.Errorf("charlie should get the template unchanged:\n%s\n%s", b, w.Template)
	}
}

func TestLedgerApp(t *testing.T) {
	dir := fields + "/apps/ledger"
	ws, _ := loadOK(t, filepath.Join(dir, "ledger.yaml"), filepath.Join(dir, "propagationpolicy.yaml"), filepath.Join(dir, "overridepolicy.yaml"))
	w := find(t, ws, "ledger-main")
	if w.Kind != "Ledger" || w.Namespace != "default" || w.Replicas != -1 || w.Source != dir+"/ledger.yaml:1" ||
		w.Policy.Source != "PropagationPolicy default/ledger-placement" ||
		w.Policy.ReplicaScheduling.ReplicaSchedulingType != scheduler.Duplicated {
		t.Errorf("workload %+v", w)
	}
	charlie := render(t, w, member("charlie", nil))
	if got := field(t, charlie, "spec", "shards"); got != "6" {
		t.Errorf("charlie shards %s", got)
	}
	if got := field(t, charlie, "metadata", "annotations"); got != `{"books.example.org/role":"primary"}` {
		t.Errorf("charlie annotations %s", got)
	}
	if got := field(t, render(t, w, member("delta", nil)), "spec", "shards"); got != "3" {
		t.Errorf("delta shards %s", got)
	}
}

func TestPropagationFields(t *testing.T) {
	storefront := fields + "/apps/storefront/deployment.yaml"
	names := func(ns ...string) *scheduler.ClusterAffinity { return &scheduler.ClusterAffinity{ClusterNames: ns} }
	dup := &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}
	weighted := func(wp *scheduler.WeightPreference) *scheduler.ReplicaScheduling {
		return &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted, WeightPreference: wp}
	}
	seconds := int64(120)
	for _, tc := range []struct {
		file string
		want scheduler.Placement // compared with the policy's placement
		from string              // its source, when several policies are in the file
	}{
		{"by-kind", scheduler.Placement{ClusterAffinity: names("charlie", "delta"), ReplicaScheduling: dup}, ""},
		{"by-label", scheduler.Placement{ClusterAffinity: names("bravo"), ReplicaScheduling: dup}, ""},
		{"exclude", scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{ExcludeClusters: []string{"bravo", "delta"}}, ReplicaScheduling: dup}, ""},
		{"cluster-labels", scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{LabelSelector: &metav1.LabelSelector{
			MatchLabels:      map[string]string{"tier": "gold"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"staging"}}}}}, ReplicaScheduling: dup}, ""},
		{"field-selector", scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{FieldSelector: &scheduler.FieldSelector{MatchExpressions: []scheduler.Requirement{
			{Key: "provider", Operator: "In", Values: []string{"onprem", "colo"}}, {Key: "region", Operator: "NotIn", Values: []string{"ap-east-9"}},
			{Key: "zone", Operator: "Exists"}}}}, ReplicaScheduling: dup}, ""},
		{"cluster-affinities", scheduler.Placement{ClusterAffinities: []scheduler.ClusterAffinityTerm{
			{AffinityName: "preferred", ClusterAffinity: *names("alpha", "bravo")},
			{AffinityName: "fallback", ClusterAffinity: *names("charlie", "delta")},
			{AffinityName: "anywhere-but-alpha", ClusterAffinity: scheduler.ClusterAffinity{ExcludeClusters: []string{"alpha"}}}}, ReplicaScheduling: dup}, ""},
		{"tolerations", scheduler.Placement{ClusterTolerations: []scheduler.Toleration{
			{Key: "workload-class", Value: "batch", Effect: scheduler.NoSchedule},
			{Key: "maintenance", Operator: "Exists", Effect: scheduler.NoExecute, TolerationSeconds: &seconds}}, ReplicaScheduling: dup}, ""},
		// zone's minGroups is left out: Karmada's default, 1.
		{"spread", scheduler.Placement{SpreadConstraints: []scheduler.SpreadConstraint{
			{SpreadByField: "region", MaxGroups: 3, MinGroups: 2}, {SpreadByField: "zone", MaxGroups: 4, MinGroups: 1}, {SpreadByField: "cluster", MaxGroups: 4, MinGroups: 3}}, ReplicaScheduling: dup}, ""},
		{"aggregated", scheduler.Placement{ClusterAffinity: names("bravo", "charlie"), ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Aggregated}}, ""},
		{"static-weight", scheduler.Placement{ClusterAffinity: names("alpha", "bravo", "charlie"),
			SpreadConstraints: []scheduler.SpreadConstraint{{SpreadByField: "cluster", MaxGroups: 3, MinGroups: 2}},
			ReplicaScheduling: weighted(&scheduler.WeightPreference{StaticWeightList: []scheduler.StaticWeight{
				{TargetCluster: *names("alpha"), Weight: 2}, {TargetCluster: *names("bravo"), Weight: 3},
				{TargetCluster: scheduler.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "overflow"}}}, Weight: 1}}})}, ""},
		{"dynamic-weight", scheduler.Placement{ReplicaScheduling: weighted(&scheduler.WeightPreference{DynamicWeight: scheduler.AvailableReplicas})}, ""},
		// Refused fields holding the value that leaves their feature off are accepted.
		{"off-values", scheduler.Placement{ClusterAffinity: names("delta"), ReplicaScheduling: dup}, ""},
		{"priority-explicit", scheduler.Placement{ClusterAffinity: names("alpha"), ReplicaScheduling: dup}, "PropagationPolicy retail/urgent"},
		{"priority-implicit", scheduler.Placement{ClusterAffinity: names("alpha"), ReplicaScheduling: dup}, "PropagationPolicy retail/pinned"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ws, notes := loadOK(t, storefront, fields+"/propagation/"+tc.file+".yaml")
			w := find(t, ws, "storefront")
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

// TestApplicationFailoverFixture: spec.failover.application is read whole, beside the
// placement.
func TestApplicationFailoverFixture(t *testing.T) {
	ws, _ := loadOK(t, fields+"/apps/storefront/deployment.yaml", fields+"/propagation/application-failover.yaml")
	w := find(t, ws, "storefront")
	a := w.Policy.Failover.Application
	want := scheduler.Placement{ClusterAffinity: &scheduler.ClusterAffinity{ClusterNames: []string{"alpha", "bravo"}},
		ReplicaScheduling: &scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}}
	if a.Toleration().Seconds() != 90 || a.Purge() != scheduler.PurgeDirectly || a.GracePeriod().Seconds() != 1200 ||
		!reflect.DeepEqual(w.Policy.Placement, want) {
		t.Fatalf("policy %+v, failover %+v", w.Policy.Placement, a)
	}
}

func TestPropagationFieldsRefused(t *testing.T) {
	dir := fields + "/propagation/refused/"
	for _, tc := range []struct{ file, want string }{
		{"preemption", "preemption.yaml:11: PropagationPolicy retail/storefront-preempts: spec.preemption: not supported by Atoll"},
		{"dependent-overrides", "dependent-overrides.yaml:11: PropagationPolicy retail/storefront-dependents: spec.dependentOverrides: not supported by Atoll"},
		{"scheduler-name", "scheduler-name.yaml:10: PropagationPolicy retail/storefront-edge-scheduler: spec.schedulerName: not supported by Atoll"},
		{"activation-preference", "activation-preference.yaml:11: PropagationPolicy retail/storefront-lazy: spec.activationPreference: not supported by Atoll"},
		{"suspension", "suspension.yaml:15: PropagationPolicy retail/storefront-paused: spec.suspension: not supported by Atoll"},
		{"preserve-resources", "preserve-resources.yaml:10: PropagationPolicy retail/storefront-kept: spec.preserveResourcesOnDeletion: not supported by Atoll"},
		{"schedule-priority", "schedule-priority.yaml:10: PropagationPolicy retail/storefront-critical: spec.schedulePriority: not supported by Atoll"},
		{"cluster-failover", "cluster-failover.yaml:11: PropagationPolicy retail/storefront-cluster-failover: spec.failover.cluster: not supported by Atoll"},
		// clusterAffinity indented as deep as placement lands under spec.
		{"misindented-affinity", `misindented-affinity.yaml:11: PropagationPolicy retail/storefront-misindented: unknown field "spec.clusterAffinity"`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			objs, err := Load([]string{fields + "/apps/storefront/deployment.yaml", dir + tc.file + ".yaml"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Resolve(objs)
			if err == nil || err.Error() != dir+tc.want {
				t.Errorf("got  %v\nwant %s%s", err, dir, tc.want)
			}
		})
	}
}

func TestOverrideFields(t *testing.T) {
	containers := []string{"spec", "template", "spec", "containers"}
	const cmd = `"command":["/usr/bin/payments","--listen=:8443","--ledger=ledger-main.default"]`
	const args = `"args":["--log-format=json","--workers=4"]`
	const img = `"image":"registry.invalid/billing/payments:3.2.0"`
	for _, tc := range []struct {
		file, name string
		path       []string
		want       string
	}{
		{"image-registry-add", "payments", containers, `[{"image":"registry.invalid/payments:3.2.0","name":"payments"}]`},
		{"image-registry-replace", "payments", containers, `[{"image":"mirror.registry.invalid/billing/payments:3.2.0","name":"payments"}]`},
		{"image-registry-remove", "payments", containers, `[{"image":"billing/payments:3.2.0","name":"payments"}]`},
		{"image-repository-add", "payments", containers, `[{"image":"registry.invalid/billing/payments-fips:3.2.0","name":"payments"}]`},
		{"image-repository-replace", "payments", containers, `[{"image":"registry.invalid/billing/payments-canary:3.2.0","name":"payments"}]`},
		{"image-tag-add", "payments", containers, `[{"image":"registry.invalid/billing/payments:3.2.0-debug","name":"payments"}]`},
		{"image-tag-remove", "payments", containers, `[{"image":"registry.invalid/billing/payments","name":"payments"}]`},
		{"command-add", "payments", containers, `[{` + args + `,"command":["/usr/bin/payments","--listen=:8443","--ledger=ledger-main.default","--zone-hint=north"],` + img + `,"name":"payments"}]`},
		{"command-remove", "payments", containers, `[{` + args + `,"command":["/usr/bin/payments","--ledger=ledger-main.default"],` + img + `,"name":"payments"}]`},
		{"args-add", "payments", containers, `[{"args":["--log-format=json","--workers=4","--trace"],` + cmd + `,` + img + `,"name":"payments"}]`},
		{"args-remove", "payments", containers, `[{"args":["--log-format=json"],` + cmd + `,` + img + `,"name":"payments"}]`},
		{"plaintext-configmap", "payments-settings", []string{"data"}, `{"mode":"strict","retries":5}`},
		{"resource-selector", "checkout", containers, `[{"image":"registry.invalid/checkout","name":"checkout"}]`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ws, notes := loadOK(t, fields+"/override/"+tc.file+".yaml")
			w := find(t, ws, tc.name)
			// The manifests are minimal: a Deployment without spec.replicas runs one.
			if want := map[string]int{"Deployment": 1, "ConfigMap": -1}[w.Kind]; w.Replicas != want {
				t.Errorf("%s: replicas %d, want %d", w.Kind, w.Replicas, want)
			}
			u := render(t, w, member("alpha", nil))
			if got := field(t, u, tc.path...); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			wantNote := ""
			if tc.file == "resource-selector" {
				wantNote = "resourceSelectors[0]: labelSelector is ignored since name is set (as in Karmada)"
			}
			if wantNote == "" && len(notes) != 0 || wantNote != "" && (len(notes) != 1 || !strings.Contains(notes[0], wantNote)) {
				t.Errorf("notes %q, want %q", notes, wantNote)
			}
		})
	}
}
