package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/scheduler"
)

// op is an OverridePolicy in namespace shop; rules are its overrideRules' items
// (indented two spaces).
func op(name, selector, rules string) string {
	return `apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata:
  name: ` + name + `
  namespace: shop
spec:
  resourceSelectors:
` + selector + `  overrideRules:
` + rules
}

// cop is a ClusterOverridePolicy.
func cop(name, selector, rules string) string {
	return strings.Replace(strings.Replace(op(name, selector, rules), "kind: OverridePolicy", "kind: ClusterOverridePolicy", 1), "  namespace: shop\n", "", 1)
}

const (
	selWeb1   = "  - {apiVersion: apps/v1, kind: Deployment, name: web}\n"
	imageRule = "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2}\n"
)

// rules decodes overrideRules items into rules by resolving them against deployWeb.
func rules(t *testing.T, items string) []Rule {
	t.Helper()
	ws, _ := resolveOK(t, deployWeb, op("o", selWeb1, items))
	return find(t, ws, "web").Overrides
}

// applyWeb applies override rules to deployWeb for cluster c.
func applyWeb(t *testing.T, items string, c *scheduler.Cluster) *unstructured.Unstructured {
	t.Helper()
	ws, _ := resolveOK(t, deployWeb, op("o", selWeb1, items))
	return render(t, find(t, ws, "web"), c)
}

func TestOverriders(t *testing.T) {
	c := member("m1", nil)
	containers := []string{"spec", "template", "spec", "containers"}
	for _, tc := range []struct {
		name  string
		rules string
		path  []string // the field to check, below spec.template.spec.containers when it starts with "0" or "1"
		want  string
	}{
		{"image tag of every container", imageRule, []string{"*", "image"}, `["registry.example.com/shop/web:v2","envoy:v2"]`},
		{"image registry replace", "  - overriders:\n      imageOverrider:\n      - {component: Registry, operator: replace, value: \"mirror.local:5000\"}\n", []string{"*", "image"}, `["mirror.local:5000/shop/web:1.0","mirror.local:5000/envoy:1.30"]`},
		{"image registry remove", "  - overriders:\n      imageOverrider:\n      - {component: Registry, operator: remove}\n", []string{"*", "image"}, `["shop/web:1.0","envoy:1.30"]`},
		{"image repository add", "  - overriders:\n      imageOverrider:\n      - {component: Repository, operator: add, value: -debug}\n", []string{"*", "image"}, `["registry.example.com/shop/web-debug:1.0","envoy-debug:1.30"]`},
		{"image tag add", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: add, value: -alpine}\n", []string{"*", "image"}, `["registry.example.com/shop/web:1.0-alpine","envoy:1.30-alpine"]`},
		{"image with a predicate", "  - overriders:\n      imageOverrider:\n      - component: Registry\n        operator: add\n        value: .cn\n        predicate: {path: /spec/template/spec/containers/0/image}\n", []string{"*", "image"}, `["registry.example.com.cn/shop/web:1.0","envoy:1.30"]`},
		{"image overriders in order", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2}\n      - {component: Tag, operator: add, value: \".1\"}\n", []string{"0", "image"}, `"registry.example.com/shop/web:v2.1"`},
		{"command add", "  - overriders:\n      commandOverrider:\n      - {containerName: web, operator: add, value: [--a, --b]}\n", []string{"0", "command"}, `["./web","--a","--b"]`},
		{"command remove", "  - overriders:\n      commandOverrider:\n      - {containerName: web, operator: remove, value: [./web, --absent]}\n", []string{"0", "command"}, `[]`},
		{"args of a container without args", "  - overriders:\n      argsOverrider:\n      - {containerName: sidecar, operator: add, value: [-v]}\n", []string{"1", "args"}, `["-v"]`},
		{"args remove on a container without args: an empty list, as Karmada", "  - overriders:\n      argsOverrider:\n      - {containerName: sidecar, operator: remove, value: [-v]}\n", []string{"1", "args"}, `[]`},
		{"command of another container untouched", "  - overriders:\n      commandOverrider:\n      - {containerName: sidecar, operator: add, value: [x]}\n", []string{"0", "command"}, `["./web"]`},
		{"labels add, replace, remove", "  - overriders:\n      labelsOverrider:\n      - {operator: add, value: {env: prod, app: web2}}\n      - {operator: replace, value: {tier: back, absent: x}}\n      - {operator: remove, value: {env: whatever-value}}\n", []string{"metadata", "labels"}, `{"app":"web2","tier":"back"}`},
		{"annotations created by add, keys with a slash", "  - overriders:\n      annotationsOverrider:\n      - {operator: add, value: {example.com/owner: team-a}}\n      - {operator: replace, value: {absent: x}}\n", []string{"metadata", "annotations"}, `{"example.com/owner":"team-a"}`},
		{"annotations replace or remove on none: nothing", "  - overriders:\n      annotationsOverrider:\n      - {operator: replace, value: {a: x}}\n      - {operator: remove, value: {a: x}}\n", []string{"metadata", "annotations"}, `<none>`},
		{"env add: set and append", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: add\n        value: [{name: MODE, value: debug}, {name: NEW, value: \"1\"}]\n", []string{"0", "env"}, `[{"name":"MODE","value":"debug"},{"name":"NEW","value":"1"}]`},
		{"env replace: present only", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: replace\n        value: [{name: MODE, value: debug}, {name: NEW, value: \"1\"}]\n", []string{"0", "env"}, `[{"name":"MODE","value":"debug"}]`},
		{"env remove", "  - overriders:\n      envOverrider:\n      - containerName: web\n        operator: remove\n        value: [{name: MODE}]\n", []string{"0", "env"}, `[]`},
		{"env of a container without env", "  - overriders:\n      envOverrider:\n      - containerName: sidecar\n        operator: add\n        value: [{name: A, value: b}]\n", []string{"1", "env"}, `[{"name":"A","value":"b"}]`},
		{"env remove on a container without env", "  - overriders:\n      envOverrider:\n      - containerName: sidecar\n        operator: remove\n        value: [{name: A}]\n", []string{"1", "env"}, `<none>`},
		{"plaintext replace, add, remove", "  - overriders:\n      plaintext:\n      - {path: /spec/replicas, operator: replace, value: 5}\n      - {path: /spec/paused, operator: add, value: true}\n      - {path: /metadata/labels/tier, operator: remove}\n", []string{"spec"}, `{"paused":true,"replicas":5,"template":{"spec":{"containers":[{"command":["./web"],"env":[{"name":"MODE","value":"prod"}],"image":"registry.example.com/shop/web:1.0","name":"web"},{"image":"envoy:1.30","name":"sidecar"}]}}}`},
		{"plaintext into a list, with escapes", "  - overriders:\n      plaintext:\n      - {path: /spec/template/spec/containers/0/env/-, operator: add, value: {name: B, value: c}}\n      - {path: /metadata/labels/a~1b, operator: add, value: x}\n", []string{"metadata", "labels"}, `{"a/b":"x","app":"web","tier":"front"}`},
		{"plaintext after image: plaintext wins", "  - overriders:\n      plaintext:\n      - {path: /spec/template/spec/containers/0/image, operator: replace, value: \"busybox\"}\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2}\n", []string{"0", "image"}, `"busybox"`},
		{"labels before plaintext", "  - overriders:\n      plaintext:\n      - {path: /metadata/labels/env, operator: replace, value: \"patched\"}\n      labelsOverrider:\n      - {operator: add, value: {env: prod}}\n", []string{"metadata", "labels", "env"}, `"patched"`},
		{"env before plaintext", "  - overriders:\n      plaintext:\n      - {path: /spec/template/spec/containers/0/env/0/value, operator: replace, value: \"patched\"}\n      envOverrider:\n      - {containerName: web, operator: add, value: [{name: MODE, value: debug}]}\n", []string{"0", "env"}, `[{"name":"MODE","value":"patched"}]`},
		{"rules in order", "  - overriders:\n      labelsOverrider: [{operator: add, value: {step: one}}]\n  - overriders:\n      labelsOverrider: [{operator: replace, value: {step: two}}]\n", []string{"metadata", "labels", "step"}, `"two"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := applyWeb(t, tc.rules, c)
			var got string
			switch tc.path[0] {
			case "*":
				cs, _, _ := unstructured.NestedSlice(u.Object, containers...)
				var images []string
				for _, x := range cs {
					images = append(images, x.(map[string]any)[tc.path[1]].(string))
				}
				b, _ := json.Marshal(images)
				got = string(b)
			case "0", "1":
				cs, _, _ := unstructured.NestedSlice(u.Object, containers...)
				ct := &unstructured.Unstructured{Object: cs[tc.path[0][0]-'0'].(map[string]any)}
				got = field(t, ct, tc.path[1:]...)
			default:
				got = field(t, u, tc.path...)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestOverridersOfKinds(t *testing.T) {
	c := member("m1", nil)
	for _, tc := range []struct {
		kind, doc string
		path      []string
	}{
		{"Pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: web, image: nginx:1}]\n", []string{"spec", "containers"}},
		{"DaemonSet", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx:1}]\n", []string{"spec", "template", "spec", "containers"}},
		{"Job", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx:1}]\n", []string{"spec", "template", "spec", "containers"}},
		{"CronJob", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web, namespace: shop}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: web, image: nginx:1}]\n", []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			sel := "  - {apiVersion: " + strings.TrimPrefix(strings.Split(tc.doc, "\n")[0], "apiVersion: ") + ", kind: " + tc.kind + "}\n"
			ws, _ := resolveOK(t, tc.doc, op("o", sel, `  - overriders:
      imageOverrider: [{component: Tag, operator: replace, value: "2"}]
      commandOverrider: [{containerName: web, operator: add, value: [run]}]
      argsOverrider: [{containerName: web, operator: add, value: [--x]}]
      envOverrider: [{containerName: web, operator: add, value: [{name: A, value: b}]}]
`))
			u := render(t, find(t, ws, "web"), c)
			cs, _, _ := unstructured.NestedSlice(u.Object, tc.path...)
			got, _ := json.Marshal(cs)
			want := `[{"args":["--x"],"command":["run"],"env":[{"name":"A","value":"b"}],"image":"nginx:2","name":"web"}]`
			if string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestTargetClusters(t *testing.T) {
	ws, _ := loadOK(t, "testdata/fields/override/target-clusters.yaml")
	w := find(t, ws, "payments")
	gold := map[string]string{"tier": "gold"}
	// The rules, in order: labelSelector tier=gold, fieldSelector region eu-north-7
	// (both annotate matched-by), clusterNames [alpha] and exclude [alpha] (both set the
	// tag). Where two match, the later wins.
	for _, tc := range []struct {
		c           *scheduler.Cluster
		image, rule string
	}{
		{&scheduler.Cluster{Site: "s1", Name: "alpha", Region: "eu-north-7", Labels: gold}, `"registry.invalid/billing/payments:alpha"`, `"fieldSelector"`},
		{&scheduler.Cluster{Site: "s1", Name: "bravo", Region: "ap-south-9"}, `"registry.invalid/billing/payments:not-alpha"`, `<none>`},
		{&scheduler.Cluster{Site: "s1", Name: "charlie", Region: "eu-north-7", Labels: gold}, `"registry.invalid/billing/payments:not-alpha"`, `"fieldSelector"`},
		{&scheduler.Cluster{Site: "s1", Name: "delta", Region: "ap-south-9", Labels: gold}, `"registry.invalid/billing/payments:not-alpha"`, `"labelSelector"`},
	} {
		u := render(t, w, tc.c)
		if got := field(t, u, "spec", "template", "spec", "containers"); !strings.Contains(got, `"image":`+tc.image) {
			t.Errorf("%s: containers %s, want image %s", tc.c.Name, got, tc.image)
		}
		if got := field(t, u, "metadata", "annotations", "matched-by"); got != tc.rule {
			t.Errorf("%s: annotation matched-by %s, want %s", tc.c.Name, got, tc.rule)
		}
	}
	// A cluster name may name the site too.
	rs := rules(t, "  - targetCluster: {clusterNames: [s2/m1]}\n    overriders:\n      labelsOverrider: [{operator: add, value: {hit: \"yes\"}}]\n")
	for _, c := range []*scheduler.Cluster{{Site: "s1", Name: "m1"}, {Site: "s2", Name: "m1"}} {
		u := &unstructured.Unstructured{Object: map[string]any{"kind": "Deployment"}}
		if err := Apply(u, rs, c); err != nil {
			t.Fatal(err)
		}
		if hit := u.GetLabels()["hit"] == "yes"; hit != (c.Site == "s2") {
			t.Errorf("%s/%s: hit %v", c.Site, c.Name, hit)
		}
	}
}

func TestOverrideOrder(t *testing.T) {
	label := func(v string) string {
		return "  - overriders:\n      labelsOverrider: [{operator: add, value: {order: " + v + "}}]\n      annotationsOverrider: [{operator: add, value: {" + v + ": \"x\"}}]\n"
	}
	ws, _ := resolveOK(t, deployWeb,
		op("a-by-name", selWeb1, label("op-name-a")),
		op("b-by-kind", selByKind, label("op-kind-b")),
		op("c-all", "", label("op-all-c")),
		cop("z-by-name", selWeb1, label("cop-name-z")),
		cop("y-by-label", selByLabel, label("cop-label-y")),
		op("a-by-kind", selByKind, label("op-kind-a")),
	)
	var got []string
	for _, r := range find(t, ws, "web").Overrides {
		got = append(got, r.Source)
	}
	// ClusterOverridePolicies first, then OverridePolicies; within each, the less precise
	// match first (a policy without selectors matches like a kind-only selector), then
	// by name; the last applied wins.
	want := []string{
		"ClusterOverridePolicy y-by-label overrideRules[0]",
		"ClusterOverridePolicy z-by-name overrideRules[0]",
		"OverridePolicy shop/a-by-kind overrideRules[0]",
		"OverridePolicy shop/b-by-kind overrideRules[0]",
		"OverridePolicy shop/c-all overrideRules[0]",
		"OverridePolicy shop/a-by-name overrideRules[0]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	u := render(t, find(t, ws, "web"), member("m1", nil))
	if l := u.GetLabels()["order"]; l != "op-name-a" {
		t.Errorf("the last rule should win: %q", l)
	}
	if n := len(u.GetAnnotations()); n != 6 {
		t.Errorf("every rule should apply: %v", u.GetAnnotations())
	}
}

func TestApplyErrors(t *testing.T) {
	c := member("m1", nil)
	for _, tc := range []struct {
		name, rules, want string
	}{
		{"plaintext replace of nothing", "  - overriders:\n      plaintext: [{path: /spec/absent, operator: replace, value: 1}]\n",
			"rule 0 (OverridePolicy shop/o overrideRules[0]): plaintext[0]: replace /spec/absent: nothing there to replace"},
		{"plaintext remove of nothing", "  - overriders:\n      plaintext: [{path: /spec/absent, operator: remove}]\n", "plaintext[0]: remove /spec/absent:"},
		{"plaintext add under nothing", "  - overriders:\n      labelsOverrider: [{operator: add, value: {a: b}}]\n  - overriders:\n      plaintext: [{path: /spec/x/y, operator: add, value: 1}]\n",
			"rule 1 (OverridePolicy shop/o overrideRules[1]): plaintext[0]: add /spec/x/y:"},
		{"predicate path to nothing", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2, predicate: {path: /spec/template/spec/containers/5/image}}\n",
			"imageOverrider[0]: predicate.path /spec/template/spec/containers/5/image: no image there"},
		{"predicate path to a number", "  - overriders:\n      imageOverrider:\n      - {component: Tag, operator: replace, value: v2, predicate: {path: /spec/replicas}}\n", "no image there"},
		{"an invalid result", "  - overriders:\n      imageOverrider:\n      - {component: Repository, operator: add, value: _}\n",
			`imageOverrider[0]: containers[0]: add Repository "_" on "registry.example.com/shop/web:1.0" gives an invalid image`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _ := resolveOK(t, deployWeb, op("o", selWeb1, tc.rules))
			w := find(t, ws, "web")
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(w.Template); err != nil {
				t.Fatal(err)
			}
			before := u.DeepCopy()
			err := Apply(u, w.Overrides, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !reflect.DeepEqual(u.Object, before.Object) {
				t.Errorf("Apply changed the object on error")
			}
		})
	}
}

// labelRules is a valid rule list that adds a label.
func labelRules(t *testing.T) []Rule {
	t.Helper()
	return rules(t, "  - overriders:\n      labelsOverrider: [{operator: add, value: {a: b}}]\n")
}

func TestApplyValidatesStoredRules(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a"}}}
	for _, tc := range []struct {
		stored, want string
	}{
		{`[{"overriders":{"labelsOverrider":[{"operator":"set","value":{"a":"b"}}]}}]`, `rule 0: overriders.labelsOverrider[0].operator: "set"`},
		{`[{"overriders":{"labelsOverrider":[{"operator":"add","value":{"a":"b"}}]}},{"overriders":{}}]`, `rule 1: overriders: no overriders`},
		{`[{"targetCluster":{"fieldSelector":{"matchExpressions":[{"key":"color","operator":"In","values":["x"]}]}},"overriders":{"plaintext":[{"path":"/a","operator":"remove"}]},"source":"X"}]`, `rule 0 (X): targetCluster: fieldSelector`},
	} {
		var rs []Rule
		if err := json.Unmarshal([]byte(tc.stored), &rs); err != nil {
			t.Fatal(err)
		}
		err := Apply(u, rs, member("m1", nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if u.GetLabels() != nil {
			t.Errorf("an invalid rule list was partly applied")
		}
	}
	if err := Apply(u, nil, nil); err == nil {
		t.Error("Apply without a cluster")
	}
	if err := Apply(&unstructured.Unstructured{}, labelRules(t), member("m1", nil)); err == nil {
		t.Error("Apply to an empty object")
	}
}

func TestRulesJSON(t *testing.T) {
	rs := rules(t, `  - targetCluster:
      clusterNames: [m1]
      labelSelector: {matchLabels: {env: prod}}
    overriders:
      plaintext: [{path: /spec/replicas, operator: replace, value: {"deep": [1, "two", null]}}]
      imageOverrider: [{component: Tag, operator: replace, value: v2, predicate: {path: /spec/template/spec/containers/0/image}}]
      commandOverrider: [{containerName: web, operator: add, value: [a]}]
      argsOverrider: [{containerName: web, operator: remove, value: [b]}]
      labelsOverrider: [{operator: add, value: {k: v}}]
      annotationsOverrider: [{operator: remove, value: {k: v}}]
      envOverrider: [{containerName: web, operator: replace, value: [{name: A, value: b}]}]
  - overriders:
      plaintext: [{path: /spec/paused, operator: remove}]
`)
	b, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var back []Rule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rs) {
		t.Errorf("round trip:\n%+v\n%+v", back, rs)
	}
	// Karmada's field names, so that the stored rules read like the policy.
	for _, k := range []string{`"targetCluster":{"labelSelector":{"matchLabels":{"env":"prod"}},"clusterNames":["m1"]}`,
		`"plaintext":[{"path":"/spec/replicas","operator":"replace","value":{"deep":[1,"two",null]}}]`,
		`"imageOverrider":[{"predicate":{"path":"/spec/template/spec/containers/0/image"},"component":"Tag","operator":"replace","value":"v2"}]`,
		`"envOverrider":[{"containerName":"web","operator":"replace","value":[{"name":"A","value":"b"}]}]`,
		`{"overriders":{"plaintext":[{"path":"/spec/paused","operator":"remove"}]},"source":"OverridePolicy shop/o overrideRules[1]"}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("missing %s in %s", k, b)
		}
	}
}

func TestRuleNotes(t *testing.T) {
	_, notes := resolveOK(t, deployWeb, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n",
		op("o", "", `  - overriders:
      imageOverrider: [{component: Tag, operator: replace, value: v2}]
      commandOverrider: [{containerName: api, operator: add, value: [x]}]
      plaintext: [{path: /spec/replicas, operator: replace, value: 2}]
`))
	want := []string{
		`t2.yaml:1: OverridePolicy shop/o overrideRules[0]: commandOverrider[0]: Deployment shop/web has no container "api"`,
		`t2.yaml:1: OverridePolicy shop/o overrideRules[0]: ConfigMap shop/cfg has no containers: the overriders of containers do nothing to it`,
		`t2.yaml:1: OverridePolicy shop/o overrideRules[0]: does not apply to ConfigMap shop/cfg as written: plaintext[0]: replace /spec/replicas: nothing there to replace`,
	}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("notes:\n%s\nwant\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
}

func TestLegacyOverrideForm(t *testing.T) {
	ws, _ := resolveOK(t, deployWeb, `apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: old, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment}
  targetCluster:
    clusterNames: [m1]
  overriders:
    imageOverrider: [{component: Registry, operator: replace, value: mirror.local}]
`)
	w := find(t, ws, "web")
	if len(w.Overrides) != 1 || w.Overrides[0].Source != "OverridePolicy shop/old" {
		t.Fatalf("rules %+v", w.Overrides)
	}
	if got := field(t, render(t, w, member("m1", nil)), "spec", "template", "spec", "containers"); !strings.Contains(got, "mirror.local/shop/web:1.0") {
		t.Errorf("m1: %s", got)
	}
	if got := field(t, render(t, w, member("m2", nil)), "spec", "template", "spec", "containers"); !strings.Contains(got, "registry.example.com/shop/web:1.0") {
		t.Errorf("m2: %s", got)
	}
}
