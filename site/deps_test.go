package site

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/interpret"
	"atoll/policy"
	"atoll/scheduler"
	"atoll/site/kube"
)

// TestPodDeps reads what a template's pods refer to, for each kind with pods.
func TestPodDeps(t *testing.T) {
	cron := `apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: reporter
          containers: [{name: r, image: x, envFrom: [{secretRef: {name: db}}]}]
          volumes: [{name: c, configMap: {name: report-config}}]
`
	var got []string
	for _, d := range podDeps([]byte(cron)) {
		got = append(got, d.Kind+"/"+d.Name)
	}
	if want := []string{"ServiceAccount/reporter", "ConfigMap/report-config", "Secret/db"}; !slices.Equal(got, want) {
		t.Errorf("CronJob: %v, want %v", got, want)
	}
	if d := podDeps([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")); d != nil {
		t.Errorf("ConfigMap: %v", d)
	}
	if d := depKeys("shop", podDeps([]byte(cron))); !slices.Equal(d, []string{"shop/serviceaccount.reporter", "shop/configmap.report-config", "shop/secret.db"}) {
		t.Errorf("keys %v", d)
	}
}

// TestWithDeps: a dependency goes to exactly the clusters where a dependent runs
// replicas here, added to its own placement; a missing one is skipped and one whose body
// is kept elsewhere is refused.
func TestWithDeps(t *testing.T) {
	wl := func(key string, body bool, deps ...string) workload {
		ns, name, _ := strings.Cut(key, "/")
		w := workload{render: kube.Workload{Namespace: ns, Name: name}, sched: scheduler.Workload{Key: key}, deps: deps}
		if body {
			w.render.Template = []byte("{}")
		} else {
			w.render.Bound = []string{"EU"}
		}
		return w
	}
	ws := []workload{
		wl("shop/web", true, "shop/configmap.cfg", "shop/secret.tok", "shop/secret.missing"),
		wl("shop/api", true, "shop/configmap.cfg"),
		wl("shop/configmap.cfg", true),
		wl("shop/secret.tok", false),
		wl("shop/configmap.unused", true),
	}
	out := []placed{
		{w: ws[0].render, clusters: map[string]int{"c0": 2, "c1": 0}},
		{w: ws[1].render, clusters: map[string]int{"c2": 1}},
	}
	got, refusals := withDeps(ws, out)
	where := map[string][]string{}
	for _, p := range got {
		where[p.w.Namespace+"/"+p.w.Name] = slices.Sorted(maps.Keys(p.clusters))
	}
	want := map[string][]string{"shop/web": {"c0", "c1"}, "shop/api": {"c2"}, "shop/configmap.cfg": {"c0", "c2"}}
	if !maps.EqualFunc(where, want, slices.Equal) {
		t.Errorf("placed %v, want %v", where, want)
	}
	if len(refusals) != 1 || refusals[0].key != "shop/secret.tok" || refusals[0].r.why != "residency" || !strings.Contains(refusals[0].r.reason, "a dependency of shop/web") {
		t.Errorf("refusals %+v", refusals)
	}
	// Placed by its own policy too: the dependents' clusters are added to its own.
	out = []placed{{w: ws[0].render, clusters: map[string]int{"c0": 2}}, {w: ws[2].render, clusters: map[string]int{"c3": 1}}}
	got, _ = withDeps(ws, out)
	if len(got) != 2 || !slices.Equal(slices.Sorted(maps.Keys(got[1].clusters)), []string{"c0", "c3"}) {
		t.Errorf("with its own placement: %+v", got)
	}
}

// TestResolveCannotDivide: a stored policy that divides a Job refuses the workload (kind
// policy) below format level 2, naming the level, rather than running it whole in every
// cluster; at level 2 it divides it, unless the Job was stored without its parallelism
// as replicas, or is Indexed. A CronJob is refused at every level.
func TestResolveCannotDivide(t *testing.T) {
	cpp := `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"ClusterPropagationPolicy","metadata":{"name":"jobs"},` +
		`"spec":{"resourceSelectors":[{"apiVersion":"batch/v1","kind":"Job"},{"apiVersion":"batch/v1","kind":"CronJob"}],"placement":{"replicaScheduling":{"replicaSchedulingType":"Divided"}}}}`
	p, err := policy.Decode("jobs", []byte(cpp))
	if err != nil {
		t.Fatal(err)
	}
	pols := policy.NewSet([]*policy.Policy{p})
	for _, tc := range []struct {
		name     string
		kind     string
		replicas int
		mode     string
		format   int
		want     string // in the refusal; "" for none
	}{
		{"below the level", "Job", 2, "", 1, "dividing a Job needs format level 2 (atoll charter propose --format 2)"},
		{"at the level", "Job", 2, "", crdt.FormatJobs, ""},
		{"stored without replicas", "Job", -1, "", crdt.FormatJobs, "stored without its parallelism as replicas"},
		{"indexed", "Job", 2, "Indexed", crdt.FormatJobs, "divides an Indexed Job"},
		{"a CronJob", "CronJob", -1, "", crdt.FormatJobs, "Atoll does not divide a CronJob"},
	} {
		obj := map[string]crdt.Value{"apiVersion": {Bytes: []byte("batch/v1")}, "kind": {Bytes: []byte(tc.kind)}}
		w := workload{kind: tc.kind, render: kube.Workload{Replicas: tc.replicas}, job: jobSpec{completionMode: tc.mode}}
		(&Site{}).resolve(&w, "shop/"+strings.ToLower(tc.kind)+".report", obj, pols, tc.format)
		switch {
		case tc.want == "" && (w.err != nil || w.refusal != ""):
			t.Errorf("%s: refusal %q, err %v; want none", tc.name, w.refusal, w.err)
		case tc.want != "" && (w.refusal != "policy" || w.err == nil || !strings.Contains(w.err.Error(), tc.want)):
			t.Errorf("%s: refusal %q, err %v; want a policy refusal saying %q", tc.name, w.refusal, w.err, tc.want)
		}
	}
}

// TestInterpretedDepsBudget: dependency scripts run once per template change, and only
// while the pass's budget lasts; a template past it keeps its previous version's
// dependencies, and its script runs in a later pass.
func TestInterpretedDepsBudget(t *testing.T) {
	c, err := interpret.Decode([]byte(`apiVersion: config.karmada.io/v1alpha1
kind: ResourceInterpreterCustomization
metadata: {name: widgets}
spec:
  target: {apiVersion: example.com/v1, kind: Widget}
  customizations:
    dependencyInterpretation:
      luaScript: |
        function GetDependencies(obj)
          return {{apiVersion = "v1", kind = "ConfigMap", name = obj.spec.configRef}}
        end
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{replication: replication{templates: map[string]template{}}, log: slog.New(slog.DiscardHandler)}
	widget := func(ref string) []byte {
		return []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {configRef: " + ref + "}\n")
	}
	deps := func(key string, change byte, ref string, budget *time.Duration) string {
		s.inspected(key, crdt.Hash{change}, widget(ref))
		var out []string
		for _, d := range s.interpretedDeps(key, c, widget(ref), budget) {
			out = append(out, d.Kind+"/"+d.Name)
		}
		return strings.Join(out, ",")
	}
	budget := maxDepsTime
	if got := deps("shop/widget.a", 1, "a1", &budget); got != "ConfigMap/a1" {
		t.Fatalf("first run: %q", got)
	}
	if budget >= maxDepsTime {
		t.Fatalf("the script's run did not count against the budget: %v left", budget)
	}
	// Spent: a new version keeps the previous dependencies and runs nothing.
	spent := time.Duration(0)
	if got := deps("shop/widget.a", 2, "a2", &spent); got != "ConfigMap/a1" {
		t.Fatalf("past the budget: %q, want the previous version's ConfigMap/a1", got)
	}
	if spent != 0 || s.templates["shop/widget.a"].depsBy != nil {
		t.Fatalf("past the budget the script ran (%v spent, depsBy %v)", spent, s.templates["shop/widget.a"].depsBy)
	}
	// The next pass runs it.
	budget = maxDepsTime
	if got := deps("shop/widget.a", 2, "a2", &budget); got != "ConfigMap/a2" {
		t.Fatalf("next pass: %q, want ConfigMap/a2", got)
	}
	// Once run, the same version is not run again, whatever the budget.
	spent = 0
	if got := deps("shop/widget.a", 2, "a2", &spent); got != "ConfigMap/a2" || spent != 0 {
		t.Fatalf("cached: %q, %v spent", got, spent)
	}
}
