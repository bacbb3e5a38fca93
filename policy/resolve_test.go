package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"atoll/scheduler"
)

// pp is a PropagationPolicy in namespace shop named name, with extra spec lines
// (indented two spaces) after its selectors; it places on the cluster named name.
func pp(name, selector, extra string) string {
	return `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: ` + name + `
  namespace: shop
spec:
  resourceSelectors:
` + selector + extra + `
  placement:
    clusterAffinity:
      clusterNames: [` + name + `]
`
}

func cpp(name, selector, extra string) string {
	return strings.Replace(strings.Replace(pp(name, selector, extra), "kind: PropagationPolicy", "kind: ClusterPropagationPolicy", 1), "  namespace: shop\n", "", 1)
}

const (
	selByKind  = "  - apiVersion: apps/v1\n    kind: Deployment\n"
	selByName  = "  - apiVersion: apps/v1\n    kind: Deployment\n    name: web\n"
	selByLabel = "  - apiVersion: apps/v1\n    kind: Deployment\n    labelSelector:\n      matchLabels: {app: web}\n"
	selOther   = "  - apiVersion: apps/v1\n    kind: Deployment\n    name: other\n"
)

func TestPolicyPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies []string
		want     string // the winning policy's name
	}{
		{"a PropagationPolicy over a ClusterPropagationPolicy of higher priority",
			[]string{cpp("c-high", selByName, "  priority: 100\n"), pp("p-low", selByKind, "")}, "p-low"},
		{"a ClusterPropagationPolicy when no PropagationPolicy matches",
			[]string{cpp("c", selByKind, ""), pp("p", selOther, ""), deployOther}, "c"},
		{"higher priority over a more precise match",
			[]string{pp("by-name", selByName, ""), pp("by-kind", selByKind, "  priority: 1\n")}, "by-kind"},
		{"negative priority loses to the default 0",
			[]string{pp("a-neg", selByName, "  priority: -1\n"), pp("b-zero", selByKind, "")}, "b-zero"},
		{"name over labelSelector", []string{pp("a-label", selByLabel, ""), pp("b-name", selByName, "")}, "b-name"},
		{"labelSelector over kind", []string{pp("a-kind", selByKind, ""), pp("b-label", selByLabel, "")}, "b-label"},
		{"the best of a policy's selectors counts", []string{pp("a-label", selByLabel, ""), pp("b-kind-and-name", selByKind+selByName, "")}, "b-kind-and-name"},
		{"alphabetical on a tie", []string{pp("zeta", selByKind, ""), pp("alpha", selByKind, ""), pp("mid", selByKind, "")}, "alpha"},
		{"cluster policies: alphabetical on a tie", []string{cpp("zeta", selByName, ""), cpp("beta", selByName, "")}, "beta"},
		{"cluster policies: priority", []string{cpp("a", selByName, ""), cpp("b", selByKind, "  priority: 2\n")}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, notes := resolveOK(t, append([]string{deployWeb}, tc.policies...)...)
			w := find(t, ws, "web")
			got := w.Policy.ClusterAffinity.ClusterNames
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("placed by %v (%s), want %s; notes %q", got, w.Policy.Source, tc.want, notes)
			}
			if !strings.HasSuffix(w.Policy.Source, tc.want) {
				t.Errorf("Source %q", w.Policy.Source)
			}
		})
	}
}

const deployOther = `apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: shop}
`

func TestPolicyNamespaces(t *testing.T) {
	// A PropagationPolicy places only in its own namespace; a ClusterPropagationPolicy's
	// selector namespace filters.
	dev := strings.Replace(deployWeb, "namespace: shop", "namespace: dev", 1)
	dev = strings.Replace(dev, "name: web\n", "name: web-dev\n", 1)
	ws, _ := resolveOK(t, deployWeb, dev,
		pp("p", selByKind, ""),
		cpp("c", "  - apiVersion: apps/v1\n    kind: Deployment\n    namespace: dev\n", ""))
	if s := find(t, ws, "web").Policy.Source; s != "PropagationPolicy shop/p" {
		t.Errorf("shop/web placed by %q", s)
	}
	if s := find(t, ws, "web-dev").Policy.Source; s != "ClusterPropagationPolicy c" {
		t.Errorf("dev/web-dev placed by %q", s)
	}
}

func TestLosingPolicyNote(t *testing.T) {
	_, notes := resolveOK(t, deployWeb, pp("a", selByName, ""), pp("b", selByKind, ""))
	if len(notes) != 1 || !strings.Contains(notes[0], "PropagationPolicy shop/b is not used: PropagationPolicy shop/a takes precedence") {
		t.Errorf("notes %q", notes)
	}
}

func TestWorkload(t *testing.T) {
	ws, _ := resolveOK(t, deployWeb+"status:\n  replicas: 3\n", `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
`, `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec: {serviceName: db}
`, `apiVersion: example.com/v1
kind: Deployment
metadata: {name: custom, namespace: shop}
spec: {replicas: 7}
`)
	web := find(t, ws, "web")
	if web.Namespace != "shop" || web.APIVersion != "apps/v1" || web.Kind != "Deployment" || web.Replicas != 3 || web.Source != "t0.yaml:1" {
		t.Errorf("web: %+v", web)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(web.Template, &tmpl); err != nil {
		t.Fatal(err)
	}
	if _, ok := tmpl["status"]; ok || tmpl["spec"] == nil {
		t.Errorf("template keeps status or lost spec: %s", web.Template)
	}
	if !reflect.DeepEqual(web.Policy, scheduler.Policy{}) || web.Overrides != nil || web.Bound != nil {
		t.Errorf("web without policies: %+v", web)
	}
	cfg := find(t, ws, "cfg")
	if cfg.Namespace != "default" || cfg.Replicas != -1 || cfg.Source != "t1.yaml:1" {
		t.Errorf("cfg: %+v", cfg)
	}
	if db := find(t, ws, "db"); db.Replicas != 1 {
		t.Errorf("StatefulSet without replicas: %d, want 1", db.Replicas)
	}
	if c := find(t, ws, "custom"); c.Replicas != -1 {
		t.Errorf("a Deployment of another group: replicas %d, want -1", c.Replicas)
	}
	if ws[0].Name != "web" || ws[3].Name != "custom" {
		t.Errorf("workloads not in input order")
	}
}

func TestKarmadaDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		want        scheduler.ReplicaScheduling
	}{
		{"no replicaScheduling: Duplicated", "", scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Duplicated}},
		{"empty type: Divided, Weighted", "    replicaScheduling: {}\n", scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted}},
		{"Divided: Weighted", "    replicaScheduling: {replicaSchedulingType: Divided}\n", scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Weighted}},
		{"Aggregated kept", "    replicaScheduling: {replicaDivisionPreference: Aggregated}\n", scheduler.ReplicaScheduling{ReplicaSchedulingType: scheduler.Divided, ReplicaDivisionPreference: scheduler.Aggregated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _ := resolveOK(t, deployWeb, pp("p", selByName, "")+tc.extra)
			if got := *find(t, ws, "web").Policy.ReplicaScheduling; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	ws, _ := resolveOK(t, deployWeb, pp("p", selByName, "")+"    spreadConstraints:\n    - maxGroups: 2\n    - spreadByLabel: rack\n      minGroups: 2\n")
	got := find(t, ws, "web").Policy.SpreadConstraints
	want := []scheduler.SpreadConstraint{{SpreadByField: "cluster", MaxGroups: 2, MinGroups: 1}, {SpreadByLabel: "rack", MinGroups: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spread %+v, want %+v", got, want)
	}
}

func TestAnnotations(t *testing.T) {
	withAnn := func(doc, ann string) string {
		return strings.Replace(doc, "  namespace: shop\n", "  namespace: shop\n  annotations:\n"+ann, 1)
	}
	t.Run("on the policy", func(t *testing.T) {
		ws, _ := resolveOK(t, deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/bound: \"EU, CH\"\n    atoll.io/takeover: \"false\"\n    atoll.io/max-surge: 50%\n"))
		w := find(t, ws, "web")
		if !reflect.DeepEqual(w.Bound, []string{"CH", "EU"}) || w.Policy.Takeover == nil || *w.Policy.Takeover || w.Policy.MaxSurge != "50%" {
			t.Errorf("bound %v takeover %v surge %q", w.Bound, w.Policy.Takeover, w.Policy.MaxSurge)
		}
	})
	t.Run("on the manifest", func(t *testing.T) {
		ws, _ := resolveOK(t, withAnn(deployWeb, "    atoll.io/bound: EU\n"), pp("p", selByName, ""))
		if w := find(t, ws, "web"); !reflect.DeepEqual(w.Bound, []string{"EU"}) || w.Policy.Takeover != nil {
			t.Errorf("bound %v takeover %v", w.Bound, w.Policy.Takeover)
		}
	})
	t.Run("on both, equal as sets", func(t *testing.T) {
		ws, _ := resolveOK(t, withAnn(deployWeb, "    atoll.io/bound: CH,EU\n"), withAnn(pp("p", selByName, ""), "    atoll.io/bound: EU,CH\n"))
		if w := find(t, ws, "web"); !reflect.DeepEqual(w.Bound, []string{"CH", "EU"}) {
			t.Errorf("bound %v", w.Bound)
		}
	})
	for _, tc := range []struct {
		name     string
		manifest string
		policy   string
		want     string
	}{
		{"differ", withAnn(deployWeb, "    atoll.io/bound: EU\n"), withAnn(pp("p", selByName, ""), "    atoll.io/bound: US\n"),
			`t0.yaml:7: Deployment shop/web: metadata.annotations.atoll.io/bound: EU differs from PropagationPolicy shop/p's US`},
		{"bad jurisdiction", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/bound: EU,E_U\n"),
			`t1.yaml:7: PropagationPolicy shop/p: metadata.annotations.atoll.io/bound: jurisdiction "E_U": want 1 to 63 letters`},
		{"empty bound", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/bound: \"\"\n"), `jurisdiction "": want`},
		{"repeated jurisdiction", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/bound: EU,EU\n"), `jurisdiction "EU" listed twice`},
		{"takeover", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/takeover: \"yes\"\n"), `atoll.io/takeover: "yes": want "true" or "false"`},
		{"max-surge", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/max-surge: 3x\n"), `atoll.io/max-surge: "3x": want a count`},
		{"max-surge over 100%", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/max-surge: 101%\n"), `at most 100%`},
		{"unknown on a policy", deployWeb, withAnn(pp("p", selByName, ""), "    atoll.io/bounds: EU\n"), `t1.yaml:7: PropagationPolicy shop/p: metadata.annotations.atoll.io/bounds: unknown Atoll annotation`},
		{"takeover on a manifest", withAnn(deployWeb, "    atoll.io/takeover: \"true\"\n"), pp("p", selByName, ""), `t0.yaml:7: Deployment shop/web: metadata.annotations.atoll.io/takeover: unknown Atoll annotation; here Atoll reads atoll.io/bound`},
		{"on an OverridePolicy", deployWeb, strings.Replace(op("o", selByName, imageRule), "metadata:\n", "metadata:\n  annotations: {atoll.io/bound: EU}\n", 1), `OverridePolicy shop/o: metadata.annotations.atoll.io/bound: unknown Atoll annotation`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contains(t, resolveErr(t, tc.manifest, tc.policy), tc.want)
		})
	}
}

func TestManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []string
		want  string
	}{
		{"cluster-scoped with a namespace", []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: shop}\n"}, `t0.yaml:3: ClusterRole r: metadata.namespace: "shop": ClusterRole is cluster-scoped`},
		{"cluster-scoped in a List", []string{"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: storage.k8s.io/v1\n  kind: StorageClass\n  metadata:\n    name: fast\n    namespace: x\n"}, `t0.yaml:11: StorageClass fast: metadata.namespace: "x": StorageClass is cluster-scoped`},
		{"no kind", []string{"apiVersion: v1\nmetadata: {name: a}\n"}, "t0.yaml:1: a: apiVersion and kind are required"},
		{"bad apiVersion", []string{"apiVersion: a/b/c\nkind: ConfigMap\nmetadata: {name: a}\n"}, `t0.yaml:1: ConfigMap a: apiVersion: unexpected GroupVersion string: a/b/c`},
		{"kind not a string", []string{"apiVersion: v1\nkind: 3\nmetadata: {name: a}\n"}, "apiVersion and kind are required"},
		{"no name", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: shop\n"}, "t0.yaml:3: ConfigMap shop/: metadata.name: required"},
		{"generateName", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n"}, "t0.yaml:4: ConfigMap default/: metadata.generateName: not supported by Atoll"},
		{"no metadata", []string{"apiVersion: v1\nkind: ConfigMap\n"}, "metadata: required"},
		{"bad namespace", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: Shop_1\n"}, `t0.yaml:5: ConfigMap Shop_1/a: metadata.namespace: "Shop_1"`},
		{"slash in name", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a/b\n"}, `t0.yaml:4: ConfigMap default/a/b: metadata.name: "a/b"`},
		{"label not a string", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    v: 1\n"}, "t0.yaml:6: ConfigMap default/a: metadata.labels.v: expected a string, found a number"},
		{"replicas not a number", []string{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: \"3\"\n"}, "t0.yaml:5: Deployment default/a: spec.replicas: 3: want a non-negative integer"},
		{"negative replicas", []string{"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: a}\nspec:\n  replicas: -1\n"}, "spec.replicas: -1: want a non-negative integer"},
		{"the same workload twice", []string{deployWeb, strings.Replace(deployWeb, "Deployment", "StatefulSet", 1)}, "t1.yaml:1: StatefulSet shop/web: Deployment shop/web at t0.yaml:1 is the same workload shop/web"},
		{"another Karmada kind", []string{"apiVersion: policy.karmada.io/v1alpha1\nkind: FederatedResourceQuota\nmetadata: {name: q}\n"}, "t0.yaml:1: FederatedResourceQuota q: policy.karmada.io/v1alpha1: not supported by Atoll"},
		{"a Karmada work", []string{"apiVersion: work.karmada.io/v1alpha2\nkind: ResourceBinding\nmetadata: {name: q}\n"}, "not supported by Atoll"},
		{"another policy version", []string{deployWeb, strings.Replace(pp("p", selByName, ""), "v1alpha1", "v1beta1", 1)}, `t1.yaml:1: PropagationPolicy shop/p: apiVersion: "policy.karmada.io/v1beta1": Atoll reads policy.karmada.io/v1alpha1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contains(t, resolveErr(t, tc.texts...), tc.want)
		})
	}
}

func TestNamespaceSkipped(t *testing.T) {
	ws, notes := resolveOK(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", deployWeb)
	if len(ws) != 1 || len(notes) != 1 || !strings.HasPrefix(notes[0], "t0.yaml:1: Namespace shop skipped: Atoll creates namespaces where workloads need them") {
		t.Errorf("workloads %d, notes %q", len(ws), notes)
	}
}

// TestUnmatchedPolicies: a policy that matches no manifest of the apply is stored all the
// same, to place the templates that match it later; a note says so.
func TestUnmatchedPolicies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []string
		want  string
	}{
		{"PropagationPolicy", []string{deployWeb, pp("p", selOther, "")},
			"t1.yaml:1: PropagationPolicy shop/p matches no manifest in this apply; it is stored, and places the templates that match it when they are written"},
		{"another namespace", []string{strings.Replace(deployWeb, "namespace: shop", "namespace: dev", 1), pp("p", selByKind, "")}, "PropagationPolicy shop/p matches no manifest"},
		{"ClusterPropagationPolicy", []string{deployWeb, cpp("c", selOther, "")}, "t1.yaml:1: ClusterPropagationPolicy c matches no manifest"},
		{"OverridePolicy", []string{deployWeb, op("o", selOther, imageRule)}, "t1.yaml:1: OverridePolicy shop/o matches no manifest in this apply; it is stored, and overrides the templates that match it when they are written"},
		{"only a Namespace", []string{"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", strings.Replace(pp("p", "  - apiVersion: v1\n    kind: Namespace\n", ""), "  namespace: shop\n", "", 1)}, "matches no manifest"},
		{"policy alone", []string{pp("p", selByKind, "")}, "matches no manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps, notes, err := Split(parseAll(t, tc.texts...))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 {
				t.Fatalf("%d policies to store, want 1", len(ps))
			}
			contains(t, strings.Join(notes, "\n"), tc.want)
		})
	}
}

func TestDuplicatePolicies(t *testing.T) {
	contains(t, resolveErr(t, deployWeb, pp("p", selByName, ""), pp("p", selByKind, "")),
		"t2.yaml:1: PropagationPolicy shop/p: also at t1.yaml:1")
}

func TestAllErrorsReported(t *testing.T) {
	err := resolveErr(t, deployWeb, pp("p", selByName, "  failover: {cluster: {purgeMode: Directly}}\n")+"    foo: 1\n", "apiVersion: v1\nkind: Node\nmetadata: {name: n, namespace: x}\n")
	lines := strings.Split(err, "\n")
	want := []string{
		"t1.yaml:11: PropagationPolicy shop/p: spec.failover.cluster: not supported by Atoll",
		`t1.yaml:16: PropagationPolicy shop/p: unknown field "spec.placement.foo"`,
		`t2.yaml:3: Node n: metadata.namespace: "x": Node is cluster-scoped`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors:\n%s", len(lines), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("error %d: %q, want %q", i, lines[i], want[i])
		}
	}
}

func TestWorkloadKeys(t *testing.T) {
	ws, _ := resolveOK(t, deployWeb, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n")
	var keys []string
	for _, w := range ws {
		keys = append(keys, w.Key)
	}
	if got := strings.Join(keys, " "); got != "shop/web shop/service.web" {
		t.Errorf("keys = %q, want a Deployment and a Service of one name as two workloads", got)
	}
}

// TestCannotDivide: a Divided placement of a kind Atoll cannot divide is an error naming
// the policy and the kind; Duplicated is not, nor a Divided placement of kinds without
// pods (a ConfigMap goes whole to the clusters it selects, as in Karmada). A Job is
// divided from format level 2: Resolve leaves it to CheckDivide, which names the level
// below it; its replicas are its parallelism. An Indexed Job is never divided.
func TestCannotDivide(t *testing.T) {
	job := "apiVersion: batch/v1\nkind: Job\nmetadata: {name: report, namespace: shop}\nspec:\n  parallelism: 3\n  completions: 6\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: r, image: registry.invalid/r:1}]\n"
	cron := "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop}\nspec:\n  schedule: '0 1 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: r, image: registry.invalid/r:1}]\n"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: b}\n"
	pp := func(kind, scheduling string) string {
		return "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  resourceSelectors: [{apiVersion: " +
			map[string]string{"Job": "batch/v1", "CronJob": "batch/v1", "ConfigMap": "v1"}[kind] + ", kind: " + kind + "}]\n  placement:\n    clusterAffinity: {clusterNames: [a/b, c/d]}\n    replicaScheduling: {replicaSchedulingType: " + scheduling + "}\n"
	}
	err := resolveErr(t, cron, pp("CronJob", "Divided"))
	contains(t, err, "PropagationPolicy shop/p", "Atoll does not divide a CronJob", "replicaSchedulingType: Duplicated")
	resolveOK(t, cron, pp("CronJob", "Duplicated"))
	resolveOK(t, cm, pp("ConfigMap", "Divided"))

	ws, _ := resolveOK(t, job, pp("Job", "Divided"))
	if len(ws) != 1 || ws[0].Replicas != 3 {
		t.Fatalf("workloads %+v: want one Job of 3 replicas (its parallelism)", ws)
	}
	err1 := CheckDivide(ws, 1)
	if err1 == nil {
		t.Fatal("CheckDivide at level 1: no error")
	}
	contains(t, err1.Error(), "PropagationPolicy shop/p", "dividing a Job needs format level 2 (atoll charter propose --format 2)", "the charter's is 1")
	if err := CheckDivide(ws, JobsLevel); err != nil {
		t.Errorf("CheckDivide at level %d: %v", JobsLevel, err)
	}
	ws, _ = resolveOK(t, job, pp("Job", "Duplicated"))
	if err := CheckDivide(ws, 1); err != nil {
		t.Errorf("a Duplicated Job at level 1: %v", err)
	}
	noParallelism := strings.Replace(job, "  parallelism: 3\n", "", 1)
	if ws, _ := resolveOK(t, noParallelism, pp("Job", "Divided")); ws[0].Replicas != 1 {
		t.Errorf("a Job without parallelism: %d replicas, want 1 (the API server's default)", ws[0].Replicas)
	}
	indexed := strings.Replace(job, "  completions: 6\n", "  completions: 6\n  completionMode: Indexed\n", 1)
	contains(t, resolveErr(t, indexed, pp("Job", "Divided")), "divides an Indexed Job", "completionMode: NonIndexed")
	resolveOK(t, indexed, pp("Job", "Duplicated"))
	bad := strings.Replace(job, "parallelism: 3", "parallelism: many", 1)
	contains(t, resolveErr(t, bad, pp("Job", "Divided")), "spec.parallelism", "want a non-negative integer")
}

// TestClusterScopedManifests: built-in cluster-scoped kinds, and custom ones whose CRD in
// the apply says scope: Cluster, become cluster-scoped templates (key "/<name>") placed
// by a ClusterPropagationPolicy; a namespaced PropagationPolicy never selects them;
// Namespaces are templates only when a ClusterPropagationPolicy selects Namespaces.
func TestClusterScopedManifests(t *testing.T) {
	crd := func(kind, scope string) string {
		return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: " + strings.ToLower(kind) + "s.example.com}\n" +
			"spec:\n  group: example.com\n  scope: " + scope + "\n  names: {kind: " + kind + ", plural: " + strings.ToLower(kind) + "s}\n" +
			"  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n"
	}
	cpp := "apiVersion: policy.karmada.io/v1alpha1\nkind: ClusterPropagationPolicy\nmetadata: {name: bundle}\nspec:\n  resourceSelectors:\n" +
		"  - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition}\n  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole}\n" +
		"  - {apiVersion: example.com/v1, kind: Gadget}\n  - {apiVersion: example.com/v1, kind: Widget}\n  - {apiVersion: v1, kind: Namespace}\n" +
		"  placement: {clusterAffinity: {clusterNames: [c0]}}\n"
	ws, notes := resolveOK(t, crd("Widget", "Namespaced"), crd("Gadget", "Cluster"),
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: widget-operator}\nrules: []\n",
		"apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", cpp)
	got := map[string]string{}
	for _, w := range ws {
		got[w.Key] = w.PlacedBy
	}
	want := map[string]string{
		"/customresourcedefinition.widgets.example.com": "ClusterPropagationPolicy bundle",
		"/customresourcedefinition.gadgets.example.com": "ClusterPropagationPolicy bundle",
		"/clusterrole.widget-operator":                  "ClusterPropagationPolicy bundle",
		"/gadget.g":                                     "ClusterPropagationPolicy bundle",
		"shop/widget.w":                                 "ClusterPropagationPolicy bundle",
		"/namespace.shop":                               "ClusterPropagationPolicy bundle",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("workloads %v, want %v (notes %q)", got, want, notes)
	}
	for _, w := range ws {
		if strings.HasPrefix(w.Key, "/") != (w.Namespace == "") {
			t.Errorf("%s: namespace %q", w.Key, w.Namespace)
		}
	}
	// A namespaced policy does not place a cluster-scoped template.
	ws, _ = resolveOK(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n",
		"apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: p, namespace: default}\nspec:\n  resourceSelectors:\n"+
			"  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole}\n  placement: {clusterAffinity: {clusterNames: [c0]}}\n")
	if len(ws) != 1 || ws[0].PlacedBy != "" {
		t.Errorf("a namespaced policy placed a cluster-scoped template: %+v", ws)
	}
}

// TestInterpreterCustomizations: a ResourceInterpreterCustomization of an apply is
// decoded (a bad script is an error naming its field), stored as a cluster-scoped policy
// that round-trips through Decode, and indexed by its target in a Set.
func TestInterpreterCustomizations(t *testing.T) {
	ric := "apiVersion: config.karmada.io/v1alpha1\nkind: ResourceInterpreterCustomization\nmetadata: {name: widgets}\n" +
		"spec:\n  target: {apiVersion: example.com/v1, kind: Widget}\n  customizations:\n    healthInterpretation:\n" +
		"      luaScript: |\n        function InterpretHealth(o) return o.status ~= nil end\n"
	_, ps, _, err := Split(parseAll(t, ric))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Kind() != "ResourceInterpreterCustomization" || ps[0].Name() != "widgets" || ps[0].Namespace() != "" || ps[0].Interpreter() == nil {
		t.Fatalf("policies %v", ps)
	}
	obj, err := ps[0].Object()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode("stored", obj)
	if err != nil || back.Interpreter() == nil || back.Interpreter().Kind != "Widget" {
		t.Fatalf("stored customization: %v, %v", back, err)
	}
	set := NewSet([]*Policy{back})
	if c := set.Interpreters().For("example.com/v1", "Widget", "healthInterpretation"); c == nil || c.Name != "widgets" {
		t.Fatalf("For: %v", c)
	}
	if c := set.Interpreters().For("example.com/v1", "Widget", "replicaResource"); c != nil {
		t.Fatalf("For an operation it does not define: %v", c)
	}
	contains(t, resolveErr(t, strings.Replace(ric, "function InterpretHealth(o)", "function Other(o)", 1)),
		"spec.customizations.healthInterpretation.luaScript")
	// An operation sites do not run is said so, not silently stored.
	_, _, notes, err := Split(parseAll(t, ric+"    retention:\n      luaScript: |\n        function Retain(d, o) return d end\n"))
	if err != nil {
		t.Fatal(err)
	}
	contains(t, strings.Join(notes, "\n"), "ResourceInterpreterCustomization widgets: retention is stored, but sites do not run it")
}

// TestInterpretersLeaveBuiltinKinds: a stored customization of a Kubernetes kind is not
// used: an operator with cluster scope cannot change how every team's Deployments are
// read or divided.
func TestInterpretersLeaveBuiltinKinds(t *testing.T) {
	for _, target := range []string{"{apiVersion: apps/v1, kind: Deployment}", "{apiVersion: v1, kind: Service}", "{apiVersion: networking.k8s.io/v1, kind: Ingress}"} {
		ric := "apiVersion: config.karmada.io/v1alpha1\nkind: ResourceInterpreterCustomization\nmetadata: {name: x}\n" +
			"spec:\n  target: " + target + "\n  customizations:\n    healthInterpretation:\n" +
			"      luaScript: |\n        function InterpretHealth(o) return false end\n"
		_, ps, _, err := Split(parseAll(t, ric))
		if err != nil {
			t.Fatal(err)
		}
		c := ps[0].Interpreter()
		if got := NewSet(ps).Interpreters().For(c.APIVersion, c.Kind, "healthInterpretation"); got != nil {
			t.Errorf("%s: a customization of a built-in kind is used", target)
		}
	}
}
